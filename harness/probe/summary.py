"""Critical constants and their aggregates over seeds, from runs in memory or in a file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from phasebench.probe.constants import NAMES, Aggregate, Constant, aggregate, critical_constants
from phasebench.probe.records import RunSummary, summarize


@dataclass
class ScanSummary:
    scan_id: str
    point_id: str
    config: dict[str, Any]
    lambda0: float
    loss0: float
    constants: dict[str, Constant]
    runs: list[RunSummary]
    complete: bool
    sharp_eps: float  # the c_sharp threshold the constants use: lambda_t / lambda0 > 1 + eps


def run_summaries(scan: Mapping[str, Any]) -> dict[str, RunSummary]:
    """Run id -> summary, for a scan as ``phasebench.results.load`` returns it."""
    return {
        run_id: summarize(
            run["c"], run["diverged"], run["loss"], run["sharpness"], run["barrier_loss"]
        )
        for run_id, run in scan["runs"].items()
    }


def recorded_sharp_eps(scan: Mapping[str, Any]) -> float:
    """The c_sharp threshold a scan was run with (files that do not record it used 0)."""
    return float(scan.get("sharp_eps", 0.0))


def scan_summaries(loaded: Mapping[str, Any], sharp_eps: float | None = None) -> list[ScanSummary]:
    """Every scan of a loaded results file, its constants recomputed from its runs with the
    threshold the scan was run with, or with ``sharp_eps`` when one is asked for after the
    fact."""
    out = []
    for scan_id, scan in loaded["scans"].items():
        runs = sorted(run_summaries(scan).values(), key=lambda r: r.c)
        eps = recorded_sharp_eps(scan) if sharp_eps is None else float(sharp_eps)
        out.append(
            ScanSummary(
                scan_id=scan_id,
                point_id=scan["point_id"],
                config=scan["config"],
                lambda0=float(scan["lambda0"]),
                loss0=float(scan["loss0"]),
                constants=critical_constants(runs, eps),
                runs=runs,
                complete=bool(scan.get("complete", False)),
                sharp_eps=eps,
            )
        )
    return sorted(out, key=lambda s: (s.point_id, s.config["seed"], s.config["sgd_seed"]))


@dataclass
class PointSummary:
    point_id: str
    config: dict[str, Any]
    scans: list[ScanSummary]
    aggregates: dict[str, Aggregate]
    lambda0: Aggregate
    loss0: Aggregate


def _plain(values: list[float]) -> Aggregate:
    array = np.asarray(values, dtype=float)
    return Aggregate(
        float(array.mean()),
        float(array.std()),
        float(array.min()),
        float(array.max()),
        int(array.size),
        int(array.size),
    )


def point_summaries(scans: list[ScanSummary]) -> list[PointSummary]:
    """Scans grouped by point (everything but c and the seeds), aggregated over seeds."""
    groups: dict[str, list[ScanSummary]] = defaultdict(list)
    for scan in scans:
        groups[scan.point_id].append(scan)
    out = []
    for point_id, members in groups.items():
        config = {k: v for k, v in members[0].config.items() if k not in ("c", "seed", "sgd_seed")}
        out.append(
            PointSummary(
                point_id=point_id,
                config=config,
                scans=members,
                aggregates={n: aggregate([s.constants[n] for s in members]) for n in NAMES},
                lambda0=_plain([s.lambda0 for s in members]),
                loss0=_plain([s.loss0 for s in members]),
            )
        )
    return sorted(out, key=lambda p: _order(p.config))


def _order(config: dict[str, Any]) -> tuple:
    """Points in a readable order: by component, then numerically by option (width 16 < 1024)."""
    key = []
    for name in sorted(config):
        value = config[name]
        if isinstance(value, dict) and "name" in value:
            key.append((name, (1, value["name"])))
            for option, v in sorted(value.get("options", {}).items()):
                number = isinstance(v, (int, float)) and not isinstance(v, bool)
                key.append((option, (0, v) if number else (1, str(v))))
    return tuple(key)


def point_label(config: dict) -> str:
    model = config["model"]
    options = ",".join(f"{k}={v}" for k, v in model["options"].items())
    return (
        f"{model['name']}({options}) {config['init']['name']} {config['loss']['name']} "
        f"{config['optimizer']['name']} on {config['dataset']['name']}"
    )
