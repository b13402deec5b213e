"""Regenerate every result behind results/REPORT.md: run the sweeps (resuming what is done),
draw the figures, write the report. ``make reproduce`` runs this.

    python results/reproduce/reproduce.py [--only NAME ...] [--workers N] [--no-run]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from experiments import BESIDE, EXPERIMENTS, PLOT_X, SECOND  # noqa: E402

ALL = {**EXPERIMENTS, **SECOND}


def phasebench(*args: str) -> None:
    command = [sys.executable, "-m", "phasebench.cli.main", *args]
    print("+ phasebench", " ".join(args), flush=True)
    subprocess.run(command, check=True)


COSTS = HERE / "data" / "costs.json"


def record_cost(name: str, seconds: float, workers: str) -> None:
    """Keep what a fresh run of one experiment cost on this machine (a resumed run would
    count only the part it redid, so only runs that started from no file are recorded)."""
    costs = json.loads(COSTS.read_text()) if COSTS.exists() else {}  # re-read: two queues
    costs[name] = {
        "seconds": round(seconds, 1),
        "workers": int(workers),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
        # the 5-minute load average as it ended: above the worker count, it shared the cores
        "load": round(os.getloadavg()[1], 1),
    }
    COSTS.parent.mkdir(exist_ok=True)
    COSTS.write_text(json.dumps(costs, indent=1, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=list(ALL))
    parser.add_argument("--workers", default="2")
    parser.add_argument("--no-run", action="store_true", help="only figures and report")
    options = parser.parse_args()
    for name in options.only:
        out = HERE / f"{name}.h5"
        if not options.no_run:
            fresh = not out.exists()
            started = time.monotonic()
            phasebench(
                "sweep",
                *ALL[name],
                "--executor",
                "process",
                "--workers",
                options.workers,
                "--out",
                str(out),
                "--resume",
            )
            if fresh:
                record_cost(name, time.monotonic() - started, options.workers)
        figures = HERE / "figures" / name
        for stale in figures.glob("*.png"):  # names carry config hashes: replace, not add
            stale.unlink()
        beside = [HERE / f"{other}.h5" for other in BESIDE.get(name, ())]
        beside_flags = [
            flag for path in beside if path.exists() for flag in ("--beside", str(path))
        ]
        x_flags = ["--x", PLOT_X[name]] if name in PLOT_X else []
        phasebench("plot", str(out), "--out-dir", str(figures), *beside_flags, *x_flags)
    subprocess.run([sys.executable, str(HERE / "report.py")], check=True)


if __name__ == "__main__":
    main()
