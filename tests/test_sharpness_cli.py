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
