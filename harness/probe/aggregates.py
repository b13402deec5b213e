"""Storing the points of a results file: each point's constants aggregated over its seeds.
Never imports torch (``show``, ``plot`` and the tests' synthetic files use it too)."""

from __future__ import annotations

from phasebench.probe.summary import PointSummary, point_label, point_summaries, scan_summaries
from phasebench.results.reader import load
from phasebench.results.writer import ResultsWriter


def finalize(writer: ResultsWriter, sharp_eps: float | None = None) -> list[PointSummary]:
    """Aggregate every point of the file over its seeds and store the aggregates (each scan
    with the c_sharp threshold it was run with, unless ``sharp_eps`` overrides it)."""
    points = point_summaries(scan_summaries(load(writer.path), sharp_eps))
    for point in points:
        writer.write_point(
            point.point_id,
            point.config,
            point_label(point.config),
            [s.scan_id for s in point.scans],
            point.aggregates,
        )
    return points
