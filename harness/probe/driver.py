"""Running scans and writing what they produce. The driver is the only writer of the file."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from phasebench.probe.constants import Constant
from phasebench.probe.records import RunRecord
from phasebench.probe.summary import (
    PointSummary,
    point_label,
    point_summaries,
    scan_summaries,
)
from phasebench.probe.task import ScanResult, ScanTask, group_by_init, run_group
from phasebench.results.reader import load
from phasebench.results.writer import ResultsWriter


def run_in_process(
    tasks: Sequence[ScanTask],
    writer: ResultsWriter,
    on_run: Callable[[ScanTask, RunRecord], None] = lambda task, run: None,
    on_scan: Callable[[ScanTask, dict[str, Constant]], None] = lambda task, constants: None,
) -> None:
    """Run the scans here, writing every run the moment it finishes (a kill loses at most the
    run in progress). Scans of one initialization share its lambda0."""

    def write_run(task: ScanTask, run: RunRecord) -> None:
        writer.write_run(run)
        on_run(task, run)

    for group in group_by_init(list(tasks)):
        for task, result in run_group(group, on_start=writer.write_scan, on_run=write_run):
            writer.complete_scan(task.config.scan_id, result.constants, task.search.sharp_eps)
            on_scan(task, result.constants)


def write_result(writer: ResultsWriter, task: ScanTask, result: ScanResult) -> None:
    """Write what a worker returned for one scan."""
    writer.write_scan(result.start)  # no-op when the file has it already
    for run in result.runs:
        writer.write_run(run)
    writer.complete_scan(task.config.scan_id, result.constants, task.search.sharp_eps)


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
