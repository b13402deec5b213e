"""Writing what scans produce. The driver is the only writer of the results file.

A ``Recorder`` writes every record the moment it exists: the scan's start (lambda0, L0) before
its first run, each run as it finishes, the scan's constants when it is complete, a failed task
under /failures. Runs computed in this process arrive one by one (a kill loses at most the run
in progress); those of a worker process arrive with its whole group, and whatever was written
already is not written again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from phasebench.errors import PhasebenchError
from phasebench.probe.task import ScanResult, ScanTask
from phasebench.results.records import RunRecord, ScanRecord
from phasebench.results.writer import ResultsWriter


class Recorder:
    """The writer of one study's file, and its listener (``phasebench.probe.task.Listener``).

    ``on_start(start)``, ``on_run(task, run)`` and ``on_scan(task, result)`` are told after
    each record is written, once each (a progress display, the loggers). Events from threads
    other than the one that made the recorder are ignored: their results come back with the
    outcome of their group and are written then.
    """

    def __init__(
        self,
        writer: ResultsWriter,
        on_run: Callable[[ScanTask, RunRecord], None] = lambda task, run: None,
        on_scan: Callable[[ScanTask, ScanResult], None] = lambda task, result: None,
        on_start: Callable[[ScanRecord], None] = lambda start: None,
    ) -> None:
        self.writer = writer
        self.on_run = on_run
        self.on_scan = on_scan
        self.on_start = on_start
        self._announced: set[str] = set()  # scans whose start on_start was told
        self._thread = threading.get_ident()
        self._starts: dict[str, ScanRecord] = {}  # scans not complete yet, to re-create
        self._pending: dict[str, list[RunRecord]] = {}  # their runs so far
        self._runs: set[str] = set()
        self._complete: set[str] = set()
        self.recreated = 0  # times the file was found deleted and made again
        self.streaming_failed = False

    @property
    def path(self) -> Path:
        return self.writer.path

    def _here(self) -> bool:
        """Stream this event? Only in the recorder's thread, and only while writing works: a
        write that fails (a full disk) must not pass for the task's failure, so streaming
        stops and the group's outcome writes, and fails, in the driver."""
        return threading.get_ident() == self._thread and not self.streaming_failed

    def _ensure_file(self) -> None:
        """A file deleted while the study runs is made again, with its header and the scans in
        progress (their start and runs so far); the complete scans it held are gone with it."""
        if self.writer.path.exists():
            return
        self.writer = ResultsWriter(self.writer.path, append=True)
        self.recreated += 1
        for scan_id, start in self._starts.items():
            self.writer.write_scan(start)
            for run in self._pending.get(scan_id, ()):
                self.writer.write_run(run)

    # -- the listener ---------------------------------------------------------------------
    def scan_started(self, start: ScanRecord) -> None:
        self._stream(self._write_start, start)

    def run_finished(self, task: ScanTask, run: RunRecord) -> None:
        self._stream(self._write_run, task, run)

    def scan_finished(self, task: ScanTask, result: ScanResult) -> None:
        self._stream(self._write_complete, task, result)

    def _stream(self, write, *args) -> None:
        if not self._here():
            return
        try:
            write(*args)
        except PhasebenchError:
            self.streaming_failed = True

    # -- what an executor returned ----------------------------------------------------------
    def group_finished(self, group: tuple[ScanTask, ...], results: list[ScanResult]) -> None:
        """Write what a group returned that is not in the file yet."""
        for task, result in zip(group, results, strict=True):
            self._write_start(result.start)
            for run in result.runs:
                self._write_run(task, run)
            self._write_complete(task, result)

    def group_failed(self, group: tuple[ScanTask, ...], error: str, attempts: int) -> None:
        for task in group:
            self._ensure_file()
            self.writer.write_failure(task.task_id, task.describe(), error, attempts)

    # -- writing, once each -----------------------------------------------------------------
    def _write_start(self, start: ScanRecord) -> None:
        if start.scan_id in self._complete:
            return
        self._starts[start.scan_id] = start
        self._ensure_file()
        self.writer.write_scan(start)  # no-op when the file has it already
        if start.scan_id not in self._announced:
            self._announced.add(start.scan_id)
            self.on_start(start)

    def _write_run(self, task: ScanTask, run: RunRecord) -> None:
        if run.run_id in self._runs:
            return
        self._ensure_file()
        self.writer.write_run(run)
        self._runs.add(run.run_id)
        self._pending.setdefault(run.scan_id, []).append(run)
        self.on_run(task, run)

    def _write_complete(self, task: ScanTask, result: ScanResult) -> None:
        scan_id = task.config.scan_id
        if scan_id in self._complete:
            return
        self._ensure_file()
        self.writer.complete_scan(scan_id, result.constants, task.search.sharp_eps)
        self._complete.add(scan_id)
        self._starts.pop(scan_id, None)
        self._pending.pop(scan_id, None)
        self.on_scan(task, result)
