"""The time estimate before a study, the plain progress lines without a terminal, and the
refusal of an exact Hessian that would take too long (``bench``, ``sharpness``)."""

from __future__ import annotations

import io
import math

import pytest
import torch
from probe_support import config
from typer.testing import CliRunner

from phasebench import plugins
from phasebench.cli.main import app
from phasebench.cli.plain_progress import PlainLines, clock
from phasebench.probe import study
from phasebench.probe.estimate import (
    Costs,
    calibrate,
    calibrate_study,
    job_seconds,
    scan_runs,
    study_seconds,
)
from phasebench.probe.grid import Grid, Search
from phasebench.probe.problem import Problem
from phasebench.probe.trajectory import start

torch.set_num_threads(1)
runner = CliRunner()

SMALL = dict(batch_size=32, sharpness_examples=64, loss_examples=64, barrier_points=5, steps=3)


def tiny_config(**protocol):
    data = {"n_train": 256, "n_test": 16, "dim": 8}
    return config("fcn", {"depth": 2, "width": 8}, "gaussian", data, **{**SMALL, **protocol})


def test_job_seconds_adds_every_product_of_every_run():
    costs = Costs(lambda0=7.0, step=1.0, evaluation=0.25, measurement=0.5)
    cfg = tiny_config()
    one_run = cfg.steps * 1.0 + cfg.steps * 0.5 + (cfg.steps + cfg.barrier_points) * 0.25
    assert job_seconds(cfg, costs, 3, lambda0s=2) == 3 * one_run + 2 * (7.0 + 0.25)
    assert job_seconds(cfg, costs, 3, parallel=3) == one_run
    # a trace: 100 steps, 5 measurements, one loss evaluation each
    assert job_seconds(cfg, costs, 1, steps=100, measurements=5, evaluations=5) == (
        100 * 1.0 + 5 * 0.5 + 5 * 0.25
    )


def test_a_grid_scan_counts_its_length_and_a_bisect_its_passes():
    assert scan_runs(Search()) == 61
    assert scan_runs(Search(grid=Grid(x_step=0.2))) == 31
    bisect = Search("bisect", Grid(x_max=6.0), tol=0.05, coarse_step=1.0)
    assert scan_runs(bisect) == 7 + 4 * math.ceil(math.log2(1.0 / 0.05))


def test_calibration_leaves_theta0_and_times_positive_products():
    components = plugins.components()
    problem = Problem.build(tiny_config(), components)
    begin = start(problem)
    costs = calibrate(problem, begin, 2.0)
    after = torch.cat([p.detach().reshape(-1) for p in begin.model.parameters()])
    assert torch.equal(after, begin.theta0)
    assert min(costs.step, costs.evaluation, costs.measurement, costs.lambda0) > 0
    assert costs.hvps >= 1 and costs.parameters == begin.theta0.numel()
    assert costs.per_run_seconds == pytest.approx(costs.per_run(problem.config))


def test_the_study_reuses_the_calibrated_lambda0_and_its_runs_fit_the_estimate(tmp_path):
    components = plugins.components()
    search = Search(grid=Grid(values=(0.5, 1.0)))
    configs = study.expand(tiny_config(), [0], [0, 1])
    planned = study.plan(configs, search, tmp_path / "p.h5", components)
    calibrated, estimate = calibrate_study(planned, components)
    assert estimate is not None and estimate.runs == 4 and estimate.upper_bound
    starts = {task.known_start.lambda0 for task in calibrated.tasks}
    assert len(starts) == 1  # both SGD seeds share the initialization measured once
    assert estimate.lambda0s == 0
    outcome = study.execute(calibrated, components)
    assert outcome.done == 2
    stored = [p.scans[0].lambda0 for p in outcome.points]
    assert stored == [pytest.approx(starts.pop())]
    # the figure for the rest grows with the runs it has left
    fewer = study_seconds(calibrated, estimate.costs).seconds
    assert fewer == pytest.approx(estimate.seconds)


RUN = [
    "--model",
    "fcn",
    "--depth",
    "2",
    "--width",
    "8",
    "--sharpness-examples",
    "64",
    "--loss-examples",
    "64",
    "--batch-size",
    "32",
    "--steps",
    "3",
    "--c",
    "0.5,1",
    "--dataset",
    "gaussian",
    "--n-train",
    "256",
    "--dim",
    "8",
]


def test_run_without_a_terminal_prints_its_estimate_and_a_line_per_run(tmp_path):
    result = runner.invoke(app, ["run", *RUN, "--out", str(tmp_path / "r.h5")])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "estimate: about" in text and "up to 2 runs of 3 steps" in text
    assert "run 1/2:" in text and "run 2/2:" in text and "remaining at most" in text
    assert "scan 1/1 done" in text
    assert text.index("estimate: about") < text.index("run 1/2:")


def test_plain_lines_count_down_a_grid_that_stops_early(tmp_path):
    components = plugins.components()
    search = Search(grid=Grid(values=(0.5, 1.0, 2.0)))
    planned = study.plan([tiny_config()], search, tmp_path / "p.h5", components)
    stream = io.StringIO()
    lines = PlainLines(planned, None, per_run=True, stream=stream)
    lines.total_runs = 3
    outcome = study.execute(
        planned, components, on_run=lines.on_run, on_scan=lines.on_scan, on_outcome=lines.on_outcome
    )
    said = stream.getvalue().splitlines()
    assert outcome.done == 1
    assert [line.split(":")[0] for line in said if line.startswith("run")] == [
        "run 1/3",
        "run 2/3",
        "run 3/3",
    ]
    assert said[-1].startswith("scan 1/1 done")
    assert clock(3725) == "1:02:05" and clock(65) == "1:05"


BENCH = ["--model", "uv", "--width", "8", "--dataset", "gaussian", "--n-train", "64"]
BENCH += ["--examples", "16"]


def test_bench_refuses_an_exact_hessian_over_max_minutes_in_one_line(tmp_path):
    out = tmp_path / "b.h5"
    args = ["bench", *BENCH, "--estimator", "exact", "--max-minutes", "1e-9", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "would take about" in error[0] and "--max-minutes" in error[0]
    assert not out.exists()


def test_bench_shows_progress_and_falls_back_to_lanczos_when_exact_is_too_long(tmp_path):
    out = tmp_path / "b.h5"
    args = ["bench", *BENCH, "--estimator", "lanczos", "--estimator", "exact"]
    result = runner.invoke(
        app, [*args, "--max-minutes", "1e-9", "--out", str(out)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "bench: uv:width=8: lanczos (budget" in result.output
    assert "exact refused: exact would take about" in result.output
    assert "lanczos(tol=1e-10)" in result.output


def test_sharpness_refuses_a_slow_exact_hessian_with_its_estimate():
    args = [
        "sharpness",
        "--model",
        "uv",
        "--width",
        "8",
        "--dataset",
        "gaussian",
        "--n-train",
        "64",
    ]
    result = runner.invoke(app, [*args, "--estimator", "exact", "--max-minutes", "1e-9"])
    assert result.exit_code == 2
    assert "exact would take about" in result.output and "Traceback" not in result.output
