"""Issue 13 #1: a sharpness that is not finite or did not converge is never turned into a phase.
An estimator plugin that returns NaN (or reports no convergence) after lambda0 gives runs and
constants marked "unmeasured" in the tables, ``show --json`` and the figures; an unconverged
lambda0 leaves every constant of its scan unmeasured."""

from __future__ import annotations

import json

import numpy as np
from plotting_results import ScanSpec, config_for, make_run
from typer.testing import CliRunner

from phasebench.analysis import phases
from phasebench.analysis.phases import critical_constants, summarize
from phasebench.cli.main import app
from phasebench.plotting import point_views
from phasebench.results import load

runner = CliRunner()
WIDE = {"COLUMNS": "250"}

BROKEN_ESTIMATOR = """
import dataclasses, math
from phasebench import hookimpl
from phasebench.hessian.api import run_estimator

CALLS = [0]
MODE, CONVERGED = {mode}, {converged}


def estimate(operator, k=1, warm_start=None, generator=None, return_vectors=False):
    result = run_estimator(operator, "lanczos", k, warm_start=warm_start, generator=generator,
                           return_vectors=return_vectors)
    CALLS[0] += 1
    if CALLS[0] == 1:  # lambda0: measured for real
        return result
    return dataclasses.replace(result, eigenvalues=(MODE,) * len(result.eigenvalues),
                               converged=CONVERGED)


@hookimpl
def register_estimators(register):
    register("broken", "{name}:estimate", description="NaN after lambda0")
"""

TINY = ["--depth", "2", "--width", "16", "--steps", "2", "--seeds", "1"]
TINY += ["--sharpness-examples", "64", "--loss-examples", "64", "--batch-size", "32"]


def run_with(tmp_path, add_entry_points, plugin_module, mode: str, converged: str):
    name = f"broken_{abs(hash((mode, converged)))}"
    source = BROKEN_ESTIMATOR.replace("{name}", name).replace("{mode}", mode)
    plugin_module(name, source.replace("{converged}", converged))
    add_entry_points(("broken", name))
    out = tmp_path / "r.h5"
    result = runner.invoke(
        app, ["run", *TINY, "--c", "0.5,1,2", "--estimator", "broken", "--out", str(out)], env=WIDE
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_a_nan_estimator_after_lambda0_is_unmeasured_never_a_phase(
    tmp_path, add_entry_points, plugin_module
):
    out, printed = run_with(tmp_path, add_entry_points, plugin_module, "math.nan", "True")
    assert "sharpness reduction" not in printed and "unmeasured" in printed
    shown = json.loads(runner.invoke(app, ["show", str(out), "--json"]).output)
    (scan,) = shown["points"][0]["scans"]
    assert scan["constants"]["c_sharp"]["status"] == "unmeasured"
    assert {r["phase"] for r in scan["runs"] if not r["diverged"]} == {"unmeasured"}
    assert shown["points"][0]["constants"]["c_sharp"]["unmeasured"] == 1
    table = runner.invoke(app, ["show", str(out)], env=WIDE).output
    assert "sharpness reduction" not in table and "unmeasured" in table
    (view,) = point_views(load(out))
    assert not view.constants["c_sharp"].determined and view.constants["c_sharp"].unmeasured == 1


def test_an_unconverged_sharpness_is_unmeasured(tmp_path, add_entry_points, plugin_module):
    out, printed = run_with(tmp_path, add_entry_points, plugin_module, "0.5", "False")
    shown = json.loads(runner.invoke(app, ["show", str(out), "--json"]).output)
    (scan,) = shown["points"][0]["scans"]
    assert scan["constants"]["c_sharp"]["status"] == "unmeasured"
    assert "sharpness reduction" not in printed


def test_an_unmeasured_lambda0_leaves_every_constant_unmeasured():
    config = config_for(2, 64, 0)
    runs = []
    for c in (1.0, 2.0, 4.0):
        run = make_run(config, ScanSpec(c_loss=2.0, c_div=4.0), c)
        run.converged[0] = False  # lambda0 did not converge
        runs.append(run.summary())
    constants = critical_constants(runs)
    assert {c.status for c in constants.values()} == {"unmeasured"}
    assert {phases.phase_of(r) for r in runs if not r.diverged} == {"unmeasured"}


def test_summarize_flags_what_was_not_measured():
    loss = np.array([1.0, 0.9, 0.8])
    ok = summarize(1.0, False, loss, np.array([2.0, 2.1, 1.9]), np.array([1.0, 0.9]))
    assert ok.measured and phases.phase_of(ok) == phases.LAZY
    nan = summarize(1.0, False, loss, np.array([2.0, np.nan, np.nan]), np.array([1.0, 0.9]))
    assert not nan.measured and phases.phase_of(nan) == phases.UNMEASURED
    # after a divergence nothing is measured, and nothing is missing
    gone = summarize(
        1.0, True, np.array([1.0, np.inf, np.nan]), np.array([2.0, np.nan, np.nan]), np.array([])
    )
    assert gone.sharp_measured and phases.phase_of(gone) == phases.DIVERGENCE
