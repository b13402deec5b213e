"""``phasebench sharpness`` and ``phasebench bench`` on a tiny test plugin's components, and the
``phasebench.sharpness`` API looking estimators up in the registry."""

from __future__ import annotations

import json

import h5py
import pytest
import torch
from hessian_models import data, half_mse, mlp
from typer.testing import CliRunner

import phasebench
from phasebench import hookimpl, plugins
from phasebench.cli.main import app
from phasebench.data import Split
from phasebench.errors import UnknownComponentError, UsageError
from phasebench.hessian.result import SharpnessResult

runner = CliRunner()
torch.set_num_threads(1)


def build_tiny(input_shape, num_outputs, width=8):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(int(torch.tensor(input_shape).prod()), width),
        torch.nn.Tanh(),
        torch.nn.Linear(width, num_outputs),
    )


def load_tiny(split, data_dir=None, n=64):
    gen = torch.Generator().manual_seed(0 if split == "train" else 1)
    return Split(
        torch.randn(n, 5, generator=gen), torch.randint(0, 3, (n,), generator=gen), 3, "tiny"
    )


def init_tiny(model, generator, scale=1.0):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=generator) / p.shape[-1] ** 0.5)
    return model


def first_ritz_value(operator, k=1, warm_start=None, generator=None, return_vectors=False, steps=2):
    """A deliberately crude plugin estimator: the Rayleigh quotient after ``steps`` products."""
    v = operator.random_vector(generator)
    for _ in range(steps):
        w = operator.matvec(v)
        value = float(v.double() @ w.double())
        v = w / w.norm()
    return SharpnessResult((value,), steps, False, (float("nan"),), 0.0, "crude", operator.backend)


class TinyPlugin:
    @hookimpl
    def register_models(self, register):
        register("tiny-mlp", build_tiny, description="test MLP", defaults={"width": 8})

    @hookimpl
    def register_datasets(self, register):
        register("tiny-gauss", load_tiny, description="test data", defaults={"n": 64})

    @hookimpl
    def register_initializations(self, register):
        register("tiny-init", init_tiny, description="test init", defaults={"scale": 1.0})

    @hookimpl
    def register_estimators(self, register):
        register("crude", first_ritz_value, description="test estimator", defaults={"steps": 2})


@pytest.fixture
def tiny(monkeypatch):
    components = plugins.load_components(extra_plugins=[("tiny", TinyPlugin())])
    monkeypatch.setattr(plugins, "_cached", components)
    return components


BASE = ["--model", "tiny-mlp", "--dataset", "tiny-gauss", "--init", "tiny-init"]


def test_sharpness_command_prints_the_result(tiny):
    result = runner.invoke(
        app,
        [
            "sharpness",
            *BASE,
            "--examples",
            "32",
            "--json",
            "--dtype",
            "float64",
            "--k",
            "2",
            "--tol",
            "1e-10",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["examples"] == 32 and out["estimator"] == "lanczos" and out["converged"]
    assert len(out["eigenvalues"]) == 2 and out["eigenvalues"][0] >= out["eigenvalues"][1]
    exact = runner.invoke(
        app,
        [
            "sharpness",
            *BASE,
            "--examples",
            "32",
            "--json",
            "--dtype",
            "float64",
            "--estimator",
            "exact",
        ],
    )
    assert json.loads(exact.output)["eigenvalues"][0] == pytest.approx(
        out["eigenvalues"][0], rel=1e-9
    )
    table = runner.invoke(app, ["sharpness", *BASE, "--model-opt", "width=4"])
    assert table.exit_code == 0 and "lanczos" in table.output and "parameters" in table.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--estimator", "lanczso"], "unknown estimator 'lanczso'; did you mean 'lanczos'"),
        (["--opt", "tolerance=1"], "has no option 'tolerance'"),
        (["--k", "1000"], "k=1000 is larger than the number of parameters"),
        (["--dtype", "float16"], "unsupported dtype"),
        (["--examples", "0"], "--examples must be at least 1"),
        (["--opt", "tol"], "is not KEY=VALUE"),
    ],
)
def test_sharpness_command_errors_are_one_line(tiny, args, message):
    result = runner.invoke(app, ["sharpness", *BASE, *args])
    assert result.exit_code == 2
    assert message in result.output and result.output.count("\n") == 1


def test_bench_writes_hdf5_and_compares_to_exact(tiny, tmp_path):
    out = tmp_path / "bench.h5"
    result = runner.invoke(
        app,
        [
            "bench",
            "--model",
            "tiny-mlp:width=6",
            "--model",
            "tiny-mlp",
            "--dataset",
            "tiny-gauss:n=40",
            "--init",
            "tiny-init",
            "--examples",
            "32",
            "--k",
            "2",
            "--out",
            str(out),
        ],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    for name in ("power", "lanczos", "exact", "crude"):
        assert name in result.output
    with h5py.File(out) as fh:
        rows = [dict(fh[key].attrs) for key in sorted(fh)]
        assert json.loads(fh.attrs["config"])["k"] == 2
        by = {(r["model"], r["estimator"]): r for r in rows}
        assert set(by) == {
            (m, e)
            for m in ("tiny-mlp:width=6", "tiny-mlp")
            for e in ("power", "lanczos", "exact", "crude")
        }
        assert by[("tiny-mlp", "exact")]["rel_err_max"] < 1e-12
        # lanczos's default tol=1e-3 bounds the Ritz residual; eigenvalue error ~ tol^2 * lambda/gap
        assert by[("tiny-mlp", "lanczos")]["rel_err_topk"] < 1e-5
        assert by[("tiny-mlp", "lanczos")]["reference"] == "exact"
        assert by[("tiny-mlp", "crude")]["hvps"] == 2
        assert fh["0000/eigenvalues"].shape[0] >= 1


def test_bench_falls_back_to_a_tight_lanczos_reference_when_exact_refuses(
    tiny, tmp_path, monkeypatch
):
    from phasebench_builtins.estimators import exact

    monkeypatch.setattr(exact, "bytes_needed", lambda n: 10**18)
    out = tmp_path / "b.h5"
    result = runner.invoke(
        app,
        [
            "bench",
            "--model",
            "tiny-mlp",
            "--dataset",
            "tiny-gauss",
            "--init",
            "tiny-init",
            "--estimator",
            "lanczos",
            "--estimator",
            "exact",
            "--examples",
            "16",
            "--out",
            str(out),
        ],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "refused" in result.output
    with h5py.File(out) as fh:
        rows = [dict(fh[key].attrs) for key in sorted(fh)]
    assert rows[0]["reference"] == "lanczos(tol=1e-10)" and rows[0]["rel_err_max"] < 1e-8
    assert "skipped" in rows[1]


def test_api_takes_a_registered_loss_name_and_plugin_estimators(tiny):
    model = mlp()
    x, y = data((6,))
    by_name = phasebench.sharpness(model, "mse", x.float(), y.float(), dtype="float64", tol=1e-9)
    by_callable = phasebench.sharpness(model, half_mse, x, y, tol=1e-9)
    assert by_name.lambda_max == pytest.approx(by_callable.lambda_max, rel=1e-9)
    assert by_name.estimator == "lanczos" and by_name.wall_time > 0
    crude = phasebench.sharpness(model, half_mse, x, y, estimator="crude", steps=3)
    assert crude.estimator == "crude" and crude.hvps == 3
    assert crude.lambda_max <= by_callable.lambda_max * (1 + 1e-9)


def test_api_errors(tiny):
    model = mlp()
    x, y = data((6,))
    with pytest.raises(UnknownComponentError, match="unknown estimator 'lanczoz'"):
        phasebench.sharpness(model, half_mse, x, y, estimator="lanczoz")
    with pytest.raises(UsageError, match="has no option 'tolerance'"):
        phasebench.sharpness(model, half_mse, x, y, tolerance=1e-3)
    with pytest.raises(UsageError, match="loss must be a registered loss name or a callable"):
        phasebench.sharpness(model, 3, x, y)
    with pytest.raises(UsageError, match="k must be a positive integer"):
        phasebench.sharpness(model, half_mse, x, y, k=0)


def test_sharpness_takes_component_options_like_run(tiny):
    common = [*BASE, "--examples", "32", "--json", "--dtype", "float64", "--k", "2"]
    new = runner.invoke(app, ["sharpness", *common, "--width", "4", "--opt", "estimator.tol=1e-10"])
    assert new.exit_code == 0, new.output
    assert new.stderr == ""
    out = json.loads(new.stdout)
    assert out["parameters"] == 5 * 4 + 4 + 4 * 3 + 3 and out["converged"]
    old = runner.invoke(app, ["sharpness", *common, "--model-opt", "width=4", "--opt", "tol=1e-10"])
    assert old.exit_code == 0, old.output
    assert json.loads(old.stdout)["eigenvalues"] == pytest.approx(out["eigenvalues"], rel=1e-12)
    assert "--model-opt KEY=VALUE is deprecated" in old.stderr
    assert "--opt tol=VALUE is deprecated" in old.stderr and "use --tol VALUE" in old.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "0.1"], "no chosen component takes --lr"),
        (["--widht", "4"], "no chosen component takes --widht"),
        (["--opt", "model.depth=2"], "model 'tiny-mlp' has no option 'depth'"),
        (["--model-opt", "depth=2"], "model 'tiny-mlp' has no option 'depth'"),
    ],
)
def test_sharpness_component_option_errors_are_one_line(tiny, args, message):
    result = runner.invoke(app, ["sharpness", *BASE, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("\n") == 1


def test_bench_takes_component_options_like_run(tiny, tmp_path):
    from phasebench.results.bench_file import read_bench

    out = tmp_path / "bench.h5"
    args = ["bench", "--model", "tiny-mlp", "--dataset", "tiny-gauss", "--init", "tiny-init"]
    result = runner.invoke(
        app,
        [*args, "--width", "6", "--opt", "dataset.n=40", "--examples", "32", "--k", "2"]
        + ["--estimator", "lanczos", "--estimator", "power", "--out", str(out)],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "deprecated" not in result.stderr
    config, rows = read_bench(out)
    assert config["k"] == 2 and [r["estimator"] for r in rows] == ["lanczos", "power"]
    assert {r["model"] for r in rows} == {"tiny-mlp:width=6"}
    assert rows[0]["parameters"] == 5 * 6 + 6 + 6 * 3 + 3
    # what each estimator finds is what it declares: power's magnitude, lanczos's largest
    assert [r["which"] for r in rows] == ["largest", "magnitude"]
    assert rows[0]["reference"] == "exact" and len(rows[0]["reference_eigenvalues"]) == 2
    refused = runner.invoke(
        app, [*args, "--estimator", "lanczos", "--tol", "1e-9", "--out", str(tmp_path / "x.h5")]
    )
    assert refused.exit_code == 2 and "bench takes no estimator options (--tol)" in refused.output
    assert not (tmp_path / "x.h5").exists()


def test_bench_reference_is_chosen_by_what_estimators_declare(tiny, monkeypatch):
    """Without an exact estimator that fits, the reference is the first that declares a
    tolerance and a budget, tightened; an estimator's name plays no part."""
    from phasebench.hessian.bench import initial_model, reference
    from phasebench.hessian.estimation import Estimate, estimator
    from phasebench.hessian.operator import HessianOperator
    from phasebench_builtins.estimators import exact

    @estimator(which=("largest",), exact=True)
    def dense(operator, request):
        values = torch.linalg.eigvalsh(operator.dense()).flip(0)[: request.k]
        return Estimate(tuple(values.tolist()), True, (0.0,) * request.k)

    class Dense:
        @hookimpl
        def register_estimators(self, register):
            register("a-dense", dense, description="an exact plugin estimator")

    components = plugins.load_components(extra_plugins=[("tiny", TinyPlugin()), ("d", Dense())])
    names = {"model": "tiny-mlp", "dataset": "tiny-gauss", "init": "tiny-init", "loss": "mse"}
    subject = initial_model(components, names, {}, 16, 0)
    op = HessianOperator(
        subject.model, subject.loss, subject.inputs, subject.targets, dtype="float64"
    )
    label, largest = reference(components, op, 2, "largest")
    assert label == "a-dense"
    label, magnitude = reference(components, op, 2, "magnitude")  # a-dense cannot: exact can
    assert label == "exact"
    monkeypatch.setattr(exact, "bytes_needed", lambda n: 10**18)
    label, tight = reference(components, op, 2, "magnitude")
    assert label == "lanczos(tol=1e-10)" and tight.converged
    assert tight.eigenvalues == pytest.approx(magnitude.eigenvalues, rel=1e-9)


def test_bench_file_round_trips(tmp_path):
    from phasebench.results.bench_file import read_bench, write_bench

    rows = [
        {"model": "m", "parameters": 3, "estimator": "e", "hvps": 4, "converged": True,
         "eigenvalues": [2.0, 1.0]},
        {"model": "m", "parameters": 3, "estimator": "x", "skipped": "too big"},
    ]  # fmt: skip
    write_bench(tmp_path / "b" / "f.h5", rows, {"k": 2, "dataset": "d"})
    config, back = read_bench(tmp_path / "b" / "f.h5")
    assert config == {"k": 2, "dataset": "d"} and back == rows
    with h5py.File(tmp_path / "other.h5", "w"):
        pass
    with pytest.raises(UsageError, match="is not a phasebench bench file"):
        read_bench(tmp_path / "other.h5")


def test_sharpness_and_bench_measure_the_operator_asked_for(tiny, tmp_path):
    from phasebench.hessian.api import run_estimator
    from phasebench.hessian.bench import initial_model
    from phasebench.hessian.curvature import build_operator

    args = ["sharpness", *BASE, "--examples", "32", "--json", "--dtype", "float64"]
    values = {}
    for which, extra in (("hessian", []), ("ggn", []), ("ggn", ["--block", "1"])):
        result = runner.invoke(app, [*args, "--operator", which, *extra, "--tol", "1e-10"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["operator"] == which and out["converged"]
        values[(which, bool(extra))] = out["eigenvalues"][0]
    names = {"model": "tiny-mlp", "dataset": "tiny-gauss", "init": "tiny-init", "loss": "mse"}
    options = {field: {} for field in (*names, "estimator")}
    subject = initial_model(tiny, {**names, "estimator": "lanczos"}, options, 32, 0, None)
    ggn = build_operator(
        "ggn", subject.model, subject.loss, subject.inputs, subject.targets, dtype="float64"
    )
    want = run_estimator(ggn, "exact").lambda_max
    assert values[("ggn", False)] == pytest.approx(want, rel=1e-8)
    assert values[("ggn", True)] <= want * (1 + 1e-8)  # a diagonal block's top is at most G's
    assert values[("hessian", False)] != pytest.approx(want, rel=1e-3)
    refused = runner.invoke(app, [*args, "--operator", "preconditioned"])
    assert refused.exit_code == 2 and "pass --optimizer adam" in refused.output
    out = tmp_path / "b.h5"
    bench = ["bench", "--model", "tiny-mlp", "--dataset", "tiny-gauss", "--init", "tiny-init"]
    result = runner.invoke(
        app,
        [
            *bench,
            "--estimator",
            "exact",
            "--examples",
            "32",
            "--operator",
            "ntk",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    with h5py.File(out) as fh:
        assert "ntk" in fh.attrs["config"]


# -- --operator preconditioned: P of an adaptive --optimizer, primed at theta_0 ------------------
PRECONDITIONED = [
    "sharpness", *BASE, "--examples", "32", "--json", "--dtype", "float64",
    "--operator", "preconditioned", "--estimator", "exact",
]  # fmt: skip


def _dense_hessian(subject):
    """(H, g, the float64 model, inputs, targets) of a fresh subject: H by double backward."""
    model = subject.model.double()
    params = list(model.parameters())
    inputs, targets = subject.inputs.double(), subject.targets.double()
    grads = torch.autograd.grad(subject.loss(model(inputs), targets), params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])
    rows = [
        torch.cat([h.reshape(-1) for h in torch.autograd.grad(g, params, retain_graph=True)])
        for g in flat
    ]
    return torch.stack(rows).detach(), flat.detach(), model, inputs, targets


def _dense_preconditioned(subject, betas, eps, gi):
    """lambda_max(P^-1/2 H P^-1/2) written out: H by double backward, P from Adam's formula
    after one step on g0 (v_1 = (1 - beta2) g0^2, GI-Adam: g0^2; t = 1), in float64."""
    dense, flat, *_ = _dense_hessian(subject)
    g0 = flat.detach()
    beta1, beta2 = betas
    v1 = g0**2 if gi else (1 - beta2) * g0**2
    p = (1 - beta1**2) * ((v1 / (1 - beta2)).sqrt() + eps)
    scaled = dense / p.sqrt()[:, None] / p.sqrt()[None, :]
    return float(torch.linalg.eigvalsh((scaled + scaled.T) / 2)[-1])


@pytest.mark.parametrize(
    ("options", "betas", "eps", "gi"),
    [
        (["--betas", "[0.8,0.99]"], (0.8, 0.99), 1e-8, False),
        (["--opt", "optimizer.gi=true", "--eps", "1e-6"], (0.9, 0.999), 1e-6, True),
    ],
)
def test_sharpness_measures_adams_preconditioned_hessian_at_initialization(
    tiny, options, betas, eps, gi
):
    """adam and GI-Adam, options given as `run` takes them: the value is a dense
    P^-1/2 H P^-1/2's top eigenvalue, and the output names what defined P."""
    from phasebench.hessian.bench import initial_model

    result = runner.invoke(app, [*PRECONDITIONED, "--optimizer", "adam", *options])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["operator"] == "preconditioned" and out["optimizer"] == "adam"
    assert out["optimizer_options"] == {"betas": list(betas), "eps": eps, "gi": gi}
    names = {"model": "tiny-mlp", "dataset": "tiny-gauss", "init": "tiny-init", "loss": "mse"}
    subject = initial_model(tiny, names, {}, 32, 0)
    want = _dense_preconditioned(subject, betas, eps, gi)
    assert out["eigenvalues"][0] == pytest.approx(want, rel=1e-9)
    hessian = runner.invoke(app, [*PRECONDITIONED[:-4], "--estimator", "exact"])
    assert json.loads(hessian.output)["eigenvalues"][0] != pytest.approx(want, rel=1e-2)
    shown = [a for a in PRECONDITIONED if a != "--json"]
    table = runner.invoke(app, [*shown, "--optimizer", "adam", *options], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "optimizer_options" in table.output and f'"gi": {json.dumps(gi)}' in table.output


def test_the_api_takes_the_same_optimizer_and_leaves_the_model_as_it_was(tiny):
    from phasebench.hessian.bench import initial_model

    names = {"model": "tiny-mlp", "dataset": "tiny-gauss", "init": "tiny-init", "loss": "mse"}
    subject = initial_model(tiny, names, {}, 32, 0)
    model = subject.model.double()
    before = [p.detach().clone() for p in model.parameters()]
    result = phasebench.sharpness(
        model,
        "mse",
        subject.inputs,
        subject.targets,
        "exact",
        operator="preconditioned",
        optimizer="adam",
        optimizer_options={"gi": True},
    )
    want = _dense_preconditioned(initial_model(tiny, names, {}, 32, 0), (0.9, 0.999), 1e-8, True)
    assert result.lambda_max == pytest.approx(want, rel=1e-9)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())
    args = (model, "mse", subject.inputs, subject.targets)
    with pytest.raises(UsageError, match="needs the adaptive optimizer whose state defines P"):
        phasebench.sharpness(*args, operator="preconditioned")
    with pytest.raises(UsageError, match="'sgd' declares no preconditioner"):
        phasebench.sharpness(*args, operator="preconditioned", optimizer="sgd")
    with pytest.raises(UsageError, match="defines P of operator 'preconditioned' only"):
        phasebench.sharpness(*args, optimizer="adam")


def test_sharpness_equals_the_probes_preconditioned_unit_on_the_same_model_and_batch():
    """`sharpness --operator preconditioned --optimizer adam --gi true` on fcn is the scan's
    lambda_unit with lr_unit preconditioned: the same theta_0, batch (the whole 32-example
    split) and P, primed by the same code."""
    import dataclasses

    from probe_support import config

    from phasebench.config import ComponentSpec
    from phasebench.plugins import components
    from phasebench.probe import trajectory
    from phasebench.probe.problem import Problem

    base = config(
        "fcn",
        {"depth": 2, "width": 8},
        dataset="gaussian",
        dataset_options={"n_train": 32},
        steps=1,
        batch_size=32,
        sharpness_examples=32,
        loss_examples=32,
        dtype="float64",
        estimator_options={"tol": 1e-10},
        lr_unit="preconditioned",
    )
    adam = components().get("optimizer", "adam")
    probe = dataclasses.replace(base, optimizer=ComponentSpec.of("adam", adam.stored({"gi": True})))
    scan = trajectory.start(Problem.build(probe, components())).record
    result = runner.invoke(
        app,
        [
            "sharpness",
            "--model",
            "fcn",
            "--depth",
            "2",
            "--width",
            "8",
            "--dataset",
            "gaussian",
            "--n-train",
            "32",
            "--init",
            "he",
            "--examples",
            "32",
            "--dtype",
            "float64",
            "--operator",
            "preconditioned",
            "--optimizer",
            "adam",
            "--gi",
            "true",
            "--estimator",
            "exact",
            "--json",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["eigenvalues"][0] == pytest.approx(scan.lambda_unit, rel=1e-8)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--operator", "preconditioned"],
            "the preconditioned operator P^-1/2 H P^-1/2 needs the adaptive optimizer whose "
            "state defines P; pass --optimizer adam",
        ),
        (
            ["--operator", "preconditioned", "--optimizer", "sgd"],
            "optimizer 'sgd' declares no preconditioner, so P^-1/2 H P^-1/2 is undefined; pass "
            "--optimizer adam",
        ),
        (
            ["--optimizer", "adam"],
            "--optimizer defines P of --operator preconditioned only, not of hessian; drop "
            "--optimizer or pass --operator preconditioned",
        ),
        (["--operator", "preconditioned", "--optimizer", "adma"], "did you mean 'adam'"),
        (
            ["--operator", "preconditioned", "--optimizer", "adam", "--gi", "maybe"],
            "gi must be true or false",
        ),
    ],
)
def test_preconditioned_refusals_are_one_line_before_any_work(
    tiny, tmp_path, monkeypatch, args, message
):
    import phasebench.hessian.bench as bench

    def no_work(*args, **kwargs):
        raise AssertionError("a model was built before the refusal")

    monkeypatch.setattr(bench, "initial_model", no_work)
    for command in (["sharpness", *BASE], ["bench", *BASE, "--out", str(tmp_path / "b.h5")]):
        result = runner.invoke(app, [*command, *args])
        assert result.exit_code == 2, result.output
        assert message in result.output and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "b.h5").exists()


def test_bench_benchmarks_the_estimators_on_the_preconditioned_operator(tiny, tmp_path):
    out = tmp_path / "b.h5"
    args = ["bench", *BASE, "--estimator", "exact", "--estimator", "lanczos", "--examples", "32"]
    args += ["--k", "1", "--operator", "preconditioned", "--optimizer", "adam", "--gi", "true"]
    result = runner.invoke(app, [*args, "--out", str(out)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "P of adam:betas=[0.9, 0.999],eps=1e-08,gi=true" in result.output.replace("\n", "")
    alone = runner.invoke(app, [*PRECONDITIONED, "--optimizer", "adam", "--gi", "true"])
    with h5py.File(out) as fh:
        config = json.loads(fh.attrs["config"])
        assert config["operator"] == "preconditioned" and config["optimizer"] == "adam"
        assert config["optimizer_options"]["gi"] is True
        rows = {fh[key].attrs["estimator"]: fh[key] for key in fh}
        assert rows["exact"]["eigenvalues"][0] == pytest.approx(
            json.loads(alone.output)["eigenvalues"][0], rel=1e-10
        )
        assert rows["lanczos"].attrs["rel_err_max"] < 1e-5


# -- --per-layer, --smallest, --critical at initialization --------------------------------------
def test_sharpness_measures_every_layer_the_smallest_and_the_critical_sharpness(tiny):
    """Each layer's value is the top eigenvalue of its diagonal block of a dense Hessian, the
    smallest the dense Hessian's smallest, and the critical sharpness 2 / eta_c where the loss
    along -g first rises (checked on both sides of eta_c at the search's tolerance)."""
    from phasebench.hessian.bench import initial_model
    from phasebench.hessian.critical import RTOL

    names = {"model": "tiny-mlp", "dataset": "tiny-gauss", "init": "tiny-init", "loss": "mse"}
    args = [*BASE, "--examples", "32", "--json", "--dtype", "float64", "--estimator", "exact"]
    result = runner.invoke(app, ["sharpness", *args, "--per-layer", "--smallest", "--critical"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    subject = initial_model(tiny, names, {}, 32, 0)
    dense, gradient, model, inputs, targets = _dense_hessian(subject)
    values = torch.linalg.eigvalsh((dense + dense.T) / 2)
    assert out["eigenvalues"][0] == pytest.approx(float(values[-1]), rel=1e-9)
    assert out["smallest"] == pytest.approx(float(values[0]), rel=1e-8, abs=1e-10)
    assert float(values[0]) < 0  # tanh: the fresh model has negative curvature
    sizes = [(name, sum(p.numel() for p in module.parameters())) for name, module in
             model.named_children() if any(True for _ in module.parameters())]  # fmt: skip
    assert list(out["layers"]) == [name for name, _ in sizes]
    start = 0
    for name, size in sizes:
        block = dense[start : start + size, start : start + size]
        top = float(torch.linalg.eigvalsh((block + block.T) / 2)[-1])
        assert out["layers"][name] == pytest.approx(top, rel=1e-8), name
        start += size
    assert out["layer_hvps"] > 0 and out["smallest_hvps"] > 0
    assert 2 <= out["critical_passes"] <= 10
    eta_c = 2 / out["critical_sharpness"]
    params = list(model.parameters())
    pieces = torch.split(gradient, [p.numel() for p in params])

    def rise(eta):
        with torch.no_grad():
            saved = [p.clone() for p in params]
            for p, g in zip(params, pieces, strict=True):
                p -= eta * g.view_as(p)
            value = float(subject.loss(model(inputs), targets))
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)
            return value - float(subject.loss(model(inputs), targets))

    assert rise(eta_c * (1 - 2 * RTOL)) < 0 < rise(eta_c * (1 + 2 * RTOL))
    refused = runner.invoke(app, ["sharpness", *args, "--per-layer", "--block", "1"])
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        "error: --per-layer measures every block; drop --block (or --per-layer)"
    ]


def test_api_measures_one_block_as_the_cli_measures_every_layer(tiny):
    from phasebench.hessian.bench import initial_model
    from phasebench.hessian.beside_top import layer_values

    names = {"model": "tiny-mlp", "dataset": "tiny-gauss", "init": "tiny-init", "loss": "mse"}
    subject = initial_model(tiny, names, {}, 32, 0)
    every, _ = layer_values(
        "hessian", subject.model, subject.loss, subject.inputs, subject.targets, "exact",
        dtype="float64", components=tiny,
    )  # fmt: skip
    for name, value in every.items():
        one = phasebench.sharpness(
            subject.model, subject.loss, subject.inputs, subject.targets, "exact",
            dtype="float64", block=name, components=tiny,
        )  # fmt: skip
        assert one.lambda_max == pytest.approx(value, rel=1e-12)
    assert len(every) == 2
