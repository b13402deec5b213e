"""Deprecated home of the file summaries: they live in ``phasebench.results.summary`` and
``phasebench.analysis.labels``. Kept so code importing them from here keeps working."""

from phasebench.analysis.labels import point_label
from phasebench.results.summary import (
    PointSummary,
    ScanSummary,
    point_summaries,
    recorded_sharp_eps,
    run_summaries,
    scan_summaries,
)

__all__ = [
    "PointSummary",
    "ScanSummary",
    "point_label",
    "point_summaries",
    "recorded_sharp_eps",
    "run_summaries",
    "scan_summaries",
]
