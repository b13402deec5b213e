"""Running scans and writing what they produce. The driver is the only writer of the file."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from phasebench.analysis.phases import Constant
from phasebench.probe.task import ScanResult, ScanTask, group_by_init, run_group
from phasebench.results.records import RunRecord
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
