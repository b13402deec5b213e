"""phasebench.testing: every built-in component and the example plugin pass the conformance
checks, and deliberately broken components (one fake plugin per hook) fail them."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from support import EXAMPLE_PLUGIN_SRC, REPO, install_fake_distribution, subprocess_env

from phasebench import kinds as kind_table
from phasebench import testing
from phasebench.plugins import load_components
from phasebench.testing import ConformanceError, check_component, check_plugin

torch.set_num_threads(1)

#: Only the built-ins (PHASEBENCH_LOAD_PLUGINS set but empty), whatever else is installed.
BUILTINS = load_components(env={"PHASEBENCH_LOAD_PLUGINS": ""})
#: Smaller options for the built-in models an initialization is also checked on.
SMALL_MODELS = {
    "fcn": {"depth": 3, "width": 16},
    "myrtle": {"width": 8},
    "resnet": {"width": 4},
    "uv": {"width": 16},
}


#: MLflow's default sqlite store migrates its schema for seconds: the full check is slow, and
#: tests/test_loggers.py keeps a fast real MLflow round-trip in the default run.
SLOW_CHECKS = {("logger", "mlflow"): pytest.mark.slow}


@testing.parametrize_components(found=BUILTINS, marks=SLOW_CHECKS)
def test_builtin_component_conforms(kind, name):
    models = None
    if kind == "initialization":
        models = {m: SMALL_MODELS.get(m, {}) for m in BUILTINS.registry("model").names()}
    status = check_component(kind, name, BUILTINS, models=models)
    if kind == "dataset" and status.startswith("skipped"):
        assert "files not present" in status
        assert BUILTINS.load(kind, name).locate  # only file-backed datasets may be skipped
    else:
        assert status == "passed"


def test_every_kind_has_a_builtin_to_check():
    marker = testing.parametrize_components(found=BUILTINS)
    kinds = {case.values[0] for case in marker.args[1]}
    assert kinds == set(kind_table.names())


def test_example_plugin_conforms(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN_SRC))
    report = check_plugin("phasebench_example")
    assert report.ok, str(report)
    assert {(r.kind, r.name, r.status) for r in report.results} == {
        ("model", "gelu-mlp", "passed"),
        ("initialization", "orthogonal", "passed"),
    }


def test_import_stays_light():
    code = "import sys, phasebench.testing; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------- broken plugins, one per hook
def _only_failure(report, kind, name):
    assert not report.ok
    [failure] = report.failures
    assert (failure.kind, failure.name) == (kind, name)
    return failure.detail


def test_model_with_wrong_output_shape_fails(plugin_module):
    name = plugin_module(
        "fake_wide_model",
        """
        import math
        from phasebench import hookimpl
        from torch import nn

        def build(input_shape, num_outputs):
            return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_outputs + 1))

        @hookimpl
        def register_models(register):
            register("too-wide", "fake_wide_model:build", description="one output too many")
        """,
    )
    detail = _only_failure(check_plugin(name), "model", "too-wide")
    assert "expected (2, 3)" in detail and "(2, 4)" in detail


def test_model_that_takes_no_shape_fails(plugin_module):
    name = plugin_module(
        "fake_picky_model",
        """
        from phasebench import hookimpl
        from phasebench.errors import UsageError

        def build(input_shape, num_outputs):
            raise UsageError(f"picky takes no input of shape {input_shape}")

        @hookimpl
        def register_models(register):
            register("picky", build, description="refuses every input")
        """,
    )
    assert "builds for none of the input shapes" in _only_failure(
        check_plugin(name), "model", "picky"
    )


def test_initialization_using_global_rng_fails(plugin_module):
    name = plugin_module(
        "fake_global_init",
        """
        import torch
        from phasebench import hookimpl

        @torch.no_grad()
        def initialize(model, generator):
            for p in model.parameters():
                p.normal_()  # the global RNG, not the generator
            return model

        @hookimpl
        def register_initializations(register):
            register("global", "fake_global_init:initialize", description="global RNG")
        """,
    )
    assert "global RNG" in _only_failure(check_plugin(name), "initialization", "global")


def test_initialization_ignoring_the_generator_fails(plugin_module):
    name = plugin_module(
        "fake_fixed_init",
        """
        import torch
        from phasebench import hookimpl

        @torch.no_grad()
        def initialize(model, generator):
            own = torch.Generator().manual_seed(0)  # the same weights whatever the seed
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=own))
            return model

        @hookimpl
        def register_initializations(register):
            register("fixed", initialize, description="ignores its generator")
        """,
    )
    assert "generator is ignored" in _only_failure(check_plugin(name), "initialization", "fixed")


def test_initialization_keeping_old_weights_fails(plugin_module):
    name = plugin_module(
        "fake_partial_init",
        """
        import torch
        from phasebench import hookimpl

        @torch.no_grad()
        def initialize(model, generator):
            for module in model.modules():
                if isinstance(module, torch.nn.Linear):
                    module.weight.copy_(torch.randn(module.weight.shape, generator=generator))
            return model  # biases keep whatever they had

        @hookimpl
        def register_initializations(register):
            register("partial", initialize, description="forgets the biases")
        """,
    )
    detail = _only_failure(check_plugin(name), "initialization", "partial")
    assert "same seed gave different" in detail and "bias" in detail


def test_loss_summing_over_the_batch_fails(plugin_module):
    name = plugin_module(
        "fake_sum_loss",
        """
        import torch.nn.functional as F
        from phasebench import hookimpl

        class SumLoss:
            def __call__(self, outputs, targets):
                return F.cross_entropy(outputs, targets, reduction="sum")

            def encode_targets(self, labels, num_classes):
                return labels

        @hookimpl
        def register_losses(register):
            register("sum-xent", SumLoss, description="sum, not mean")
        """,
    )
    assert "mean over the batch" in _only_failure(check_plugin(name), "loss", "sum-xent")


def test_optimizer_that_does_nothing_fails(plugin_module):
    name = plugin_module(
        "fake_idle_optimizer",
        """
        import torch
        from phasebench import hookimpl

        class Idle(torch.optim.Optimizer):
            def __init__(self, params, lr):
                super().__init__(params, {"lr": lr})

            def step(self, closure=None):
                return None

        @hookimpl
        def register_optimizers(register):
            register("idle", "fake_idle_optimizer:Idle", description="never moves")
        """,
    )
    assert "did not lower it" in _only_failure(check_plugin(name), "optimizer", "idle")


def test_optimizer_ignoring_lr_fails(plugin_module):
    name = plugin_module(
        "fake_fixed_lr",
        """
        import torch
        from phasebench import hookimpl

        def make(params, lr):
            return torch.optim.SGD(params, lr=0.01)  # the probe's lr = c / lambda0 is lost

        @hookimpl
        def register_optimizers(register):
            register("fixed-lr", make, description="ignores lr")
        """,
    )
    assert "scale with lr" in _only_failure(check_plugin(name), "optimizer", "fixed-lr")


def test_estimator_with_wrong_eigenvalue_fails(plugin_module):
    name = plugin_module(
        "fake_one_step",
        """
        from phasebench import hookimpl
        from phasebench.hessian import SharpnessResult

        def estimate(operator, k=1, warm_start=None, generator=None, return_vectors=False):
            v = operator.random_vector(generator)  # one Rayleigh quotient: not the top one
            value = float(v.double() @ operator.matvec(v).double())
            return SharpnessResult(
                eigenvalues=(value,) * k, hvps=1, converged=True, residuals=(0.0,) * k,
                wall_time=0.0, estimator="one-step", backend=operator.backend,
                eigenvectors=v[None].repeat(k, 1) if return_vectors else None,
            )

        @hookimpl
        def register_estimators(register):
            register("one-step", "fake_one_step:estimate", description="a single product")
        """,
    )
    assert "top eigenvalue" in _only_failure(check_plugin(name), "estimator", "one-step")


def test_estimator_miscounting_products_fails(plugin_module):
    name = plugin_module(
        "fake_miscount",
        """
        import torch
        from phasebench import hookimpl
        from phasebench.hessian import SharpnessResult

        def estimate(operator, k=1, warm_start=None, generator=None, return_vectors=False):
            values, vectors = torch.linalg.eigh(operator.dense())  # n products...
            return SharpnessResult(
                eigenvalues=tuple(values.flip(0)[:k].tolist()), hvps=1,  # ...reported as one
                converged=True, residuals=(0.0,) * k, wall_time=0.0, estimator="miscount",
                backend=operator.backend,
                eigenvectors=vectors.flip(1)[:, :k].T if return_vectors else None,
            )

        @hookimpl
        def register_estimators(register):
            register("miscount", estimate, description="reports the wrong cost")
        """,
    )
    assert "asked the operator for" in _only_failure(check_plugin(name), "estimator", "miscount")


def test_dataset_with_float_labels_fails_and_missing_files_skip(plugin_module):
    name = plugin_module(
        "fake_datasets",
        """
        import torch
        from phasebench import hookimpl
        from phasebench.data import Split
        from phasebench.errors import DataError

        def float_labels(split, data_dir=None):
            inputs = torch.randn(12, 4, generator=torch.Generator().manual_seed(0))
            return Split(inputs, (torch.arange(12) % 3).float(), 3, split)

        def missing(split, data_dir=None):
            raise DataError("fake-files: data.bin not found; put it in --data-dir")

        @hookimpl
        def register_datasets(register):
            register("float-labels", float_labels, description="labels as floats")
            register("missing", missing, description="its files are not here")
        """,
    )
    report = check_plugin(name)
    assert "int64" in _only_failure(report, "dataset", "float-labels")
    [skipped] = [r for r in report.results if r.status == "skipped"]
    assert skipped.name == "missing" and "data.bin not found" in skipped.detail


def test_executor_dropping_failed_tasks_fails(plugin_module):
    name = plugin_module(
        "fake_executor",
        """
        from phasebench import hookimpl
        from phasebench.execution import Outcome, call_captured

        class Forgetful:
            in_flight = 0

            def __enter__(self):
                return self

            def __exit__(self, *exc_info):
                return None

            def submit_all(self, fn, tasks):
                for index, task in enumerate(tasks):
                    captured = call_captured(fn, task)
                    if captured.ok:  # a failed task vanishes without an Outcome
                        yield Outcome(index, task, True, captured.value)

        @hookimpl
        def register_executors(register):
            register("forgetful", Forgetful, description="drops failed tasks")
        """,
    )
    assert "yielded outcomes for indices" in _only_failure(
        check_plugin(name), "executor", "forgetful"
    )


# ------------------------------------------------------------------------ plugin-level problems
def test_plugin_that_fails_to_import_is_a_problem(plugin_module):
    name = plugin_module("fake_broken_import", "import not_a_module_anywhere\n")
    report = check_plugin(name)
    assert not report.ok and not report.results
    assert "not_a_module_anywhere" in report.problems[0]
    with pytest.raises(ConformanceError, match="not_a_module_anywhere"):
        report.raise_for_failures()


def test_plugin_clashing_with_a_builtin_name_is_a_problem(plugin_module):
    name = plugin_module(
        "fake_clash",
        """
        from phasebench import hookimpl

        @hookimpl
        def register_models(register):
            register("fcn", "fake_clash:build", description="a second fcn")
        """,
    )
    report = check_plugin(name)
    assert not report.ok and "registered twice" in report.problems[0]


def test_plugin_registering_nothing_is_a_problem(plugin_module):
    name = plugin_module("fake_empty", '"""No hooks at all."""\n')
    assert check_plugin(name).problems == ["plugin 'fake_empty' registered no component"]


def test_unknown_plugin_is_a_usage_error():
    from phasebench.errors import UsageError

    with pytest.raises(UsageError, match="installed plugins: builtin-"):
        check_plugin("no_such_plugin_module")


def test_check_component_raises_on_a_broken_component(plugin_module):
    name = plugin_module(
        "fake_wide_model2",
        """
        import math
        from phasebench import hookimpl
        from torch import nn

        def build(input_shape, num_outputs, width=4):
            return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), width))

        @hookimpl
        def register_models(register):
            register("wide", build, description="width outputs", defaults={"width": 4})
        """,
    )
    found = load_components(
        env={"PHASEBENCH_LOAD_PLUGINS": name}, extra_plugins=[(name, __import__(name))]
    )
    with pytest.raises(ConformanceError, match=r"model 'wide' \(plugin 'fake_wide_model2'\)"):
        check_component("model", "wide", found)
    assert check_component("model", "wide", found, options={"width": 3}) == "passed"


# ------------------------------------------------------------------------------------ CLI
def test_cli_checks_an_installed_plugin_by_entry_point_name(tmp_path):
    site = tmp_path / "site"
    install_fake_distribution(
        site, "phasebench-example-plugin", {"phasebench-example-plugin": "phasebench_example"}
    )
    result = subprocess.run(
        [sys.executable, "-m", "phasebench.testing", "phasebench-example-plugin"],
        env=subprocess_env(site, EXAMPLE_PLUGIN_SRC),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "plugin phasebench-example-plugin: ok" in result.stdout
    assert "passed  initialization orthogonal" in result.stdout


def test_cli_exits_nonzero_on_a_broken_plugin(tmp_path):
    (tmp_path / "fake_cli_broken.py").write_text(
        "from phasebench import hookimpl\n"
        "def make(params, lr):\n"
        "    import torch\n"
        "    return torch.optim.SGD(params, lr=lr, maximize=True)  # climbs\n"
        "@hookimpl\n"
        "def register_optimizers(register):\n"
        "    register('ascent', make, description='gradient ascent')\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "phasebench.testing", "fake_cli_broken"],
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "plugin fake_cli_broken: FAILED" in result.stdout
    assert "failed  optimizer ascent" in result.stdout


# ----------------------------------------------------------------------------------- docs
@pytest.mark.parametrize(
    "relative",
    [
        "pyproject.toml",
        "src/phasebench_example/__init__.py",
        "src/phasebench_example/gelu_mlp.py",
        "src/phasebench_example/orthogonal.py",
    ],
)
def test_docs_quote_the_example_plugin_verbatim(relative):
    docs = (REPO / "docs" / "plugins.md").read_text()
    source = (EXAMPLE_PLUGIN_SRC.parent / relative).read_text().strip()
    assert source in docs, f"docs/plugins.md quotes an outdated {relative}"
