"""A loaded results file as the tables, ``show --json`` and the figures read it: per scan, the
constants it STORED when it completed (recomputed only on an explicit ``sharp_eps``, or for a
scan still incomplete), per point, their aggregates over seeds."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from phasebench.analysis.aggregates import Aggregate, aggregate, aggregate_values
from phasebench.analysis.labels import point_label
from phasebench.analysis.phases import NAMES, Constant, RunSummary, critical_constants, summarize


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
    #: where the constants come from: "stored" (written when the scan completed), "recomputed"
    #: (an explicit sharp_eps) or "provisional" (the scan is incomplete)
    source: str = "stored"
    lambda0_converged: bool = True
    lambda_unit: float = math.nan  # lambda_unit(theta_0) of the config's lr_unit (schema 3)

    @property
    def lambda0_measured(self) -> bool:
        return math.isfinite(self.lambda0) and self.lambda0 > 0 and self.lambda0_converged


def run_summaries(scan: Mapping[str, Any]) -> dict[str, RunSummary]:
    """Run id -> summary, for a scan as ``phasebench.results.load`` returns it."""
    return {
        run_id: summarize(
            run["c"],
            run["diverged"],
            run["loss"],
            run["sharpness"],
            run["barrier_loss"],
            run.get("converged"),
        )
        for run_id, run in scan["runs"].items()
    }


def recorded_sharp_eps(scan: Mapping[str, Any]) -> float:
    """The c_sharp threshold a scan was run with (files that do not record it used 0)."""
    return float(scan.get("sharp_eps", 0.0))


def stored_constants(scan: Mapping[str, Any], runs: list[RunSummary]) -> dict[str, Constant] | None:
    """The constants a complete scan stored (None when it stored none)."""
    stored = scan.get("constants")
    if not scan.get("complete") or not isinstance(stored, Mapping):
        return None
    largest = max((r.c for r in runs), default=math.nan)
    return {n: Constant.from_dict(stored[n], largest) for n in NAMES if n in stored} or None


def scan_summaries(loaded: Mapping[str, Any], sharp_eps: float | None = None) -> list[ScanSummary]:
    """Every scan of a loaded results file with the constants it stored; with ``sharp_eps``
    (an explicit choice) they are recomputed from its runs with that threshold instead. A scan
    not yet complete gets provisional constants from the runs it has."""
    out = []
    for scan_id, scan in loaded["scans"].items():
        runs = sorted(run_summaries(scan).values(), key=lambda r: r.c)
        eps = recorded_sharp_eps(scan) if sharp_eps is None else float(sharp_eps)
        constants = None if sharp_eps is not None else stored_constants(scan, runs)
        source = "stored"
        if constants is None or set(constants) != set(NAMES):
            constants = critical_constants(runs, eps)
            source = "recomputed" if scan.get("complete") else "provisional"
        out.append(
            ScanSummary(
                scan_id=scan_id,
                point_id=scan["point_id"],
                config=scan["config"],
                lambda0=float(scan["lambda0"]),
                loss0=float(scan["loss0"]),
                constants=constants,
                runs=runs,
                complete=bool(scan.get("complete", False)),
                sharp_eps=eps,
                source=source,
                lambda0_converged=bool(scan.get("lambda0_converged", True)),
                lambda_unit=float(scan.get("lambda_unit", math.nan)),
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

    @property
    def label(self) -> str:
        return point_label(self.config)


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
                lambda0=aggregate_values(
                    [s.lambda0 if s.lambda0_measured else math.nan for s in members]
                ),
                loss0=aggregate_values([s.loss0 for s in members]),
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
