"""Storing the points of a results file: each point's stored constants aggregated over its
seeds. Never imports torch (``show``, ``plot`` and the tests' synthetic files use it too)."""

from __future__ import annotations

from phasebench.analysis.labels import point_label
from phasebench.results.reader import load
from phasebench.results.summary import PointSummary, point_summaries, scan_summaries
from phasebench.results.writer import ResultsWriter


def finalize(writer: ResultsWriter, sharp_eps: float | None = None) -> list[PointSummary]:
    """Aggregate every point of the file over its seeds and store the aggregates: from the
    constants each scan stored, or recomputed with ``sharp_eps`` when one is asked for."""
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
