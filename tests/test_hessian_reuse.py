"""What the operator no longer repeats: the finite-data scan (once per tensor), the backend
calibration (once per key, across processes, on disk), the loss (free from the graph)."""

from __future__ import annotations

import json

import pytest
import torch
from hessian_models import data, half_mse, mlp
from typer.testing import CliRunner

from phasebench.cli.main import app
from phasebench.errors import UsageError
from phasebench.hessian import backend_cache, batches
from phasebench.hessian import operator as operator_module
from phasebench.hessian.operator import HessianOperator

torch.set_num_threads(1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder of this test, and no backend choice remembered in this process."""
    monkeypatch.setenv("PHASEBENCH_CACHE", str(tmp_path / "cache"))
    operator_module._CHOICE.clear()
    yield tmp_path / "cache"
    operator_module._CHOICE.clear()


def test_fixed_data_is_scanned_for_non_finite_values_once(monkeypatch):
    x, y = data((6,), n=12)
    scans = []
    real = torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: scans.append(t.shape) or real(t))
    batches.as_batches(x, y, torch.float64, torch.device("cpu"))
    batches.as_batches(x, y, torch.float64, torch.device("cpu"))
    assert scans == [x.shape, y.shape]  # the second call scans nothing
    x[3, 2] = float("nan")  # in place: its version changes, so it is scanned again
    with pytest.raises(UsageError, match="NaN or infinite"):
        batches.as_batches(x, y, torch.float64, torch.device("cpu"))
    assert len(scans) == 3


def test_a_second_process_reads_the_backend_choice_from_disk(cache):
    model, (x, y) = mlp(), data((6,), n=10)
    first = HessianOperator(model, half_mse, x, y)
    first.matvec(first.random_vector())
    assert first.calibration_hvps > 0
    stored = json.loads((cache / backend_cache.FILE).read_text())["entries"]
    assert list(stored.values()) == [list(next(iter(operator_module._CHOICE.values())))]
    operator_module._CHOICE.clear()  # what a new process starts with
    again = HessianOperator(model, half_mse, x, y)
    again.matvec(again.random_vector())
    assert again.calibration_hvps == 0 and again.backend == first.backend
    other = HessianOperator(model, half_mse, x[:7], y[:7])  # other batch shapes: calibrates
    other.matvec(other.random_vector())
    assert other.calibration_hvps > 0 and backend_cache.entries() == 2


def test_an_unreadable_or_foreign_cache_file_is_ignored(cache):
    cache.mkdir(parents=True)
    (cache / backend_cache.FILE).write_text("{not json")
    model, (x, y) = mlp(), data((6,), n=10)
    op = HessianOperator(model, half_mse, x, y)
    op.matvec(op.random_vector())
    assert op.calibration_hvps > 0 and backend_cache.entries() == 1
    key = op._disk_key()
    backend_cache.store(key, ["no-such-backend"])
    operator_module._CHOICE.clear()
    again = HessianOperator(model, half_mse, x, y)
    again.matvec(again.random_vector())
    assert again.calibration_hvps > 0  # an unknown stored name: calibrated again


def test_cache_dir_honors_the_environment(tmp_path):
    assert backend_cache.cache_dir({"PHASEBENCH_CACHE": str(tmp_path)}) == tmp_path
    xdg = backend_cache.cache_dir({"XDG_CACHE_HOME": str(tmp_path)})
    assert xdg == tmp_path / "phasebench"


def test_cache_clear_command_forgets_the_choices(cache):
    model, (x, y) = mlp(), data((6,), n=10)
    HessianOperator(model, half_mse, x, y).matvec(
        torch.zeros(sum(p.numel() for p in model.parameters()), dtype=torch.float64)
    )
    runner = CliRunner()
    shown = runner.invoke(app, ["cache", "show"])
    assert shown.exit_code == 0 and "1 HVP backend choice" in shown.output
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0 and "removed 1" in cleared.output
    assert backend_cache.entries() == 0 and not (cache / backend_cache.FILE).exists()


def test_the_loss_comes_free_from_the_graph_and_equals_a_forward_pass():
    model, (x, y) = mlp(), data((6,), n=10)
    op = HessianOperator(model, half_mse, x, y, backend="graph")
    plain = op.loss()  # no backend built yet: a forward pass
    assert op.backend == "graph"
    assert op.loss() == pytest.approx(plain, rel=1e-15)


def test_check_false_skips_the_non_finite_loss_error():
    model, (x, y) = mlp(), data((6,), n=10)
    with torch.no_grad():
        next(model.parameters()).fill_(float("inf"))
    with pytest.raises(UsageError, match="not finite"):
        HessianOperator(model, half_mse, x, y)
    op = HessianOperator(model, half_mse, x, y, check=False, backend="graph")
    assert op.backend == "graph" and not op.loss() < float("inf")
