"""The cost of one default `phasebench run` and the share of it spent measuring sharpness.

One round (a run is about a minute on 2 cores); the figures are in extra_info: wall time, runs,
seconds per run, HVPs per step, and the fraction of run time inside the sharpness estimates.
"""

from __future__ import annotations

import numpy as np
import torch
from typer.testing import CliRunner

from phasebench.cli.main import app
from phasebench.results import load


def test_default_run_cost(benchmark, tmp_path):
    out = tmp_path / "default.h5"

    def default_run():
        out.unlink(missing_ok=True)
        result = CliRunner().invoke(app, ["run", "--out", str(out)])
        assert result.exit_code == 0, result.output

    benchmark.pedantic(default_run, rounds=1, iterations=1)
    [scan] = load(out)["scans"].values()
    runs = list(scan["runs"].values())
    steps = [r for r in runs if not r["diverged"]]
    run_seconds = sum(r["seconds"] for r in runs)
    benchmark.extra_info.update(
        {
            "torch_threads": torch.get_num_threads(),
            "runs": len(runs),
            "seconds_total": benchmark.stats.stats.median,
            "seconds_per_run": run_seconds / len(runs),
            "lambda0_seconds": scan["lambda0_seconds"],
            "hvps_per_step": float(np.mean([r["hvps"][1:].mean() for r in steps])),
            "sharpness_share_of_runs": sum(r["sharpness_seconds"] for r in runs) / run_seconds,
        }
    )
