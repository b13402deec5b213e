"""The logger check: ``make(results, **options)`` gives an object that takes a study's calls
(start, log_scan, log_run with a diverged run's nans, log_constants with an above-grid and an
undetermined constant, log_figure, close) without raising, and writes nothing into the
current folder (its files go next to the results file unless told otherwise)."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from phasebench.testing.common import PASSED, ConformanceError, _require

CALLS = ("start", "log_scan", "log_run", "log_constants", "log_figure", "close")

#: The configuration of the check's scan: a small default probe as a results file stores it.
CONFIG: dict[str, Any] = {
    "barrier_points": 5,
    "batch_size": 32,
    "c": 1.0,
    "dataset": {"name": "fashion-mnist-subset", "options": {"dtype": "float32"}},
    "device": "cpu",
    "divergence_threshold": 1e5,
    "dtype": "float32",
    "estimator": {"name": "lanczos", "options": {"tol": 0.001}},
    "init": {"name": "he", "options": {}},
    "loss": {"name": "mse", "options": {}},
    "loss_examples": 64,
    "model": {"name": "fcn", "options": {"depth": 2, "width": 8}},
    "optimizer": {"name": "sgd", "options": {}},
    "seed": 0,
    "sgd_seed": 0,
    "sharpness_examples": 64,
    "steps": 3,
}


def example_records():
    """(scan, runs, constants): one scan of two runs, c = 1 (the loss falls) and c = 8
    (diverged at step 2: nan after it), with its constants."""
    from phasebench.analysis.phases import ABOVE_GRID, FOUND, NOT_BEFORE_DIVERGENCE, Constant
    from phasebench.results.records import RunRecord, ScanRecord

    scan = ScanRecord("5ca1ab1e5ca1ab1e", "901a7901a7901a70", CONFIG, 40.0, 1.2, 8, True, 0.01)
    nan = math.nan

    def run(run_id: str, c: float, loss, sharpness, diverged_step: int) -> RunRecord:
        loss = np.asarray(loss, dtype=float)
        return RunRecord(
            run_id=run_id,
            scan_id=scan.scan_id,
            config={**CONFIG, "c": c},
            c=c,
            eta=c / scan.lambda0,
            loss=loss,
            batch_loss=loss[:-1] * 1.01,
            sharpness=np.asarray(sharpness, dtype=float),
            hvps=np.asarray([8, 6, 6, 6] if diverged_step < 0 else [8, 6, 0, 0]),
            converged=np.asarray([True, True, True, diverged_step < 0]),
            barrier_tau=np.linspace(0, 1, 5),
            barrier_loss=np.asarray([1.2, 1.0, 0.8, 0.7, 0.6])
            if diverged_step < 0
            else np.asarray([]),
            diverged=diverged_step >= 0,
            diverged_step=diverged_step,
            seconds=0.1,
            sharpness_seconds=0.05,
        )

    runs = [
        run("a1a1a1a1a1a1a1a1", 1.0, [1.2, 0.9, 0.7, 0.6], [40.0, 35.0, 33.0, 32.0], -1),
        run("b2b2b2b2b2b2b2b2", 8.0, [1.2, 30.0, nan, nan], [40.0, 90.0, nan, nan], 2),
    ]
    constants = {
        "c_loss": Constant(8.0, FOUND),
        "c_sharp": Constant(nan, NOT_BEFORE_DIVERGENCE),
        "c_barrier": Constant(1.0, FOUND),
        "c_max": Constant(1.0, ABOVE_GRID, 1.0),
    }
    return scan, runs, constants


def _write_png(path: Path) -> None:
    import matplotlib.image

    matplotlib.image.imsave(path, np.linspace(0, 1, 64).reshape(8, 8), cmap="viridis")


def check_logger(
    make: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "logger"
) -> str:
    """``make(results, **options)`` and a study's calls in order; any exception, a missing
    call or a file written into the current folder fails the check."""
    scan, runs, constants = example_records()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results" / "probe.h5"
        results.parent.mkdir()
        elsewhere = Path(tmp) / "cwd"  # the current folder meanwhile: it must stay empty
        elsewhere.mkdir()
        os.chdir(elsewhere)
        try:
            _run_calls(make, dict(options or {}), label, results, scan, runs, constants)
        finally:
            os.chdir(here)
        added = sorted(os.listdir(elsewhere))
        _require(not added, label, f"wrote {', '.join(added)} into the current folder")
    return PASSED


def _run_calls(make, options, label, results, scan, runs, constants) -> None:
    from phasebench.probe.loggers import StudyInfo

    logger = make(results, **options)
    missing = [call for call in CALLS if not callable(getattr(logger, call, None))]
    _require(not missing, label, f"the logger has no {', '.join(missing)}")
    figure = results.parent / "figure.png"
    _write_png(figure)
    steps = [
        ("start", (StudyInfo(results, 1, 0, len(runs)),)),
        ("log_scan", (scan,)),
        *(("log_run", (run,)) for run in runs),
        ("log_constants", (scan, constants)),
        ("log_figure", (figure,)),
        ("close", ()),
    ]
    for call, args in steps:
        try:
            getattr(logger, call)(*args)
        except Exception as exc:
            raise ConformanceError(f"{label}: {call} raised {type(exc).__name__}: {exc}") from exc
