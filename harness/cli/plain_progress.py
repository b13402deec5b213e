"""Progress as plain lines, for a log file or a pipe (no terminal: Rich's bar would print
nothing until the end). ``run``: one line per run finished; ``sweep``: one per group of scans
finished. Each says what finished, the time so far and about how much is left: the mean
seconds per run (or per scan) so far times what remains, before any is done the estimate's."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from phasebench.cli.job_estimate import duration

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.execution import Outcome
    from phasebench.probe.estimate import JobEstimate
    from phasebench.probe.study import Study
    from phasebench.probe.task import ScanResult, ScanTask
    from phasebench.results.records import RunRecord


def clock(seconds: float) -> str:
    """``1:05`` or ``2:03:07``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class PlainLines:
    """The listener ``run`` and ``sweep`` use without a terminal (``on_run``, ``on_scan``,
    ``on_outcome`` as the bars have them). ``per_run``: print every run (``run``), else
    every finished group of scans (``sweep``)."""

    def __init__(
        self,
        study: Study,
        estimate: JobEstimate | None = None,
        per_run: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream
        self.per_run = per_run
        self.per_scan = study.runs_per_scan  # None: bisect
        self.scans = len(study.tasks)
        self.total_runs = estimate.runs if estimate is not None else None
        self.estimate = estimate
        self.began = time.perf_counter()
        self.runs_done = 0
        self.runs_of: dict[str, int] = {}
        self.scans_done = 0
        self.failed = 0

    def _say(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def _elapsed(self) -> float:
        return time.perf_counter() - self.began

    def _left_runs(self) -> int | None:
        if self.total_runs is None:
            return None
        return max(self.total_runs - self.runs_done, 0)

    def remaining(self) -> float | None:
        """Seconds left: the mean per run so far times the runs left (an upper bound on a
        grid, which stops at its first divergence)."""
        left = self._left_runs()
        if left is None:
            return None
        if self.runs_done:
            return self._elapsed() / self.runs_done * left
        if self.estimate is not None:
            return max(self.estimate.seconds - self._elapsed(), 0.0)
        return None

    def _tail(self) -> str:
        left = self.remaining()
        shown = "unknown" if left is None else f"at most {clock(left)}"
        if left is not None and (self.per_scan is None or not self.per_run):
            shown = f"about {clock(left)}"
        return f"elapsed {clock(self._elapsed())}, remaining {shown}"

    def on_run(self, task: ScanTask, run: RunRecord) -> None:
        self.runs_done += 1
        self.runs_of[task.task_id] = self.runs_of.get(task.task_id, 0) + 1
        if not self.per_run:
            return
        of = f"/{self.total_runs}" if self.total_runs else ""
        state = f" diverged at step {run.diverged_step}" if run.diverged else ""
        self._say(
            f"run {self.runs_done}{of}: seed {task.config.seed} sgd {task.config.sgd_seed} "
            f"c={run.c:.4g}{state} in {duration(run.seconds)}; {self._tail()}"
        )

    def on_scan(self, task: ScanTask, result: ScanResult) -> None:
        """A grid scan that stops at a divergence skips the rest of its grid."""
        if self.per_scan is not None and self.total_runs is not None:
            ran = self.runs_of.get(task.task_id, 0) + len(task.done)
            self.total_runs -= max(self.per_scan - ran, 0)
        if self.per_run:
            self.scans_done += 1
            found = ", ".join(
                f"{name} {value.value:.3g}" if value.determined else f"{name} {value.status}"
                for name, value in result.constants.items()
            )
            self._say(f"scan {self.scans_done}/{self.scans} done: {found or 'no constants'}")

    def on_outcome(self, outcome: Outcome) -> None:
        if not outcome.ok:
            assert outcome.error is not None
            self.failed += len(outcome.task)
            self._say(f"failed after {outcome.attempts} attempts: {outcome.error.line()}")
        if self.per_run:
            return
        self.scans_done += len(outcome.task)
        left = self.scans - self.scans_done
        rate = self._elapsed() / max(self.scans_done, 1)
        self._say(
            f"scans {self.scans_done}/{self.scans} done ({self.failed} failed); elapsed "
            f"{clock(self._elapsed())}, remaining about {clock(rate * left)}"
        )
