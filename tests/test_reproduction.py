"""The full reproduction (results/REPORT.md): the report's own sweeps and checks, rerun from
scratch, claims 1-3 of the first edition and the second edition's long runs. About an hour and a
half on 2 cores: marked slow (`pytest -m slow`). The fast versions are in test_probe_science.py,
test_trace_science.py, test_authors_protocol.py, test_curvature_probe.py and test_fcn_norm.py."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from support import REPO

REPRODUCE = REPO / "results" / "reproduce"


def _module(name: str):
    for stale in ("reading", "second", "report"):  # they read PHASEBENCH_REPRODUCE_DATA once
        sys.modules.pop(stale, None)
    spec = importlib.util.spec_from_file_location(name, REPRODUCE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPRODUCE))
    spec.loader.exec_module(module)
    return module


def _sweep(args: list[str], out) -> None:
    """One experiment of results/reproduce/experiments.py, as reproduce.py runs it."""
    command = [sys.executable, "-m", "phasebench.cli.main", "sweep", *args]
    subprocess.run(
        [*command, "--executor", "process", "--workers", "2", "--out", str(out)], check=True
    )


@pytest.mark.slow
def test_claims_one_to_three_hold_as_reported(tmp_path, monkeypatch):
    experiments = _module("experiments").EXPERIMENTS
    for name in ("uv", "fcn-zero-last", "fcn-he"):
        _sweep(experiments[name], tmp_path / f"{name}.h5")
    monkeypatch.setenv("PHASEBENCH_REPRODUCE_DATA", str(tmp_path))
    report = _module("report")
    uv = report.claim_uv()
    assert uv.count("**holds**") == 3 and "does not hold" not in uv
    zero = report.claim_zero_last()
    assert "Within two grid steps at depths 4 and 8: **holds**" in zero
    he = report.claim_he()
    assert "c_loss and c_sharp above 2 wherever determined: **holds**" in he
    assert "c_loss grows with d/w" in he and "rank correlation" in he
    assert he.count("**holds**") >= 3


@pytest.mark.slow
def test_second_edition_claims_hold_as_reported(tmp_path, monkeypatch):
    """The second edition's long runs (results/REPORT.md, sections 9 and 10), rerun from
    scratch: full-batch GD and momentum at their edge of stability, the uv trace on its
    recursion, full-batch Adam at 38 / eta. About 25 minutes on 2 cores."""
    second = _module("experiments").SECOND
    for name in ("trace-gd", "trace-gd-small-c", "trace-momentum", "trace-uv", "trace-adam"):
        _sweep(second[name], tmp_path / f"{name}.h5")
    monkeypatch.setenv("PHASEBENCH_REPRODUCE_DATA", str(tmp_path))
    sections = _module("second")
    uv = sections.uv_check()
    assert "**holds** that they agree to 1e-6" in uv
    [at12] = [t for t in sections._traces("trace-gd") if t.c == 12]
    assert at12.eos and abs(at12.eos["mean"] - 1) <= 0.1
    [momentum] = sections._traces("trace-momentum")
    assert momentum.threshold_kind == "(2+2beta)/eta" and abs(momentum.eos["mean"] - 1) <= 0.1
    [adam] = sections._traces("trace-adam")
    assert adam.eos and abs(adam.eos["mean"] - 1) <= 0.1
