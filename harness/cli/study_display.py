"""What ``run`` and ``sweep`` show while a study runs and after: its progress bar, its notes
and tables. The study itself is ``phasebench.probe.study``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phasebench.cli.markup import literal

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.progress import Progress

    from phasebench.execution import Outcome
    from phasebench.probe.study import Study, StudyOutcome
    from phasebench.probe.task import ScanResult, ScanTask
    from phasebench.results.records import RunRecord


def progress_columns(*extra):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )


def note_plan(study: Study, console: Console) -> None:
    """On stderr: what ``--resume`` skips, and scans of other settings in the file."""
    if study.skipped:
        console.print(f"resume: {study.skipped} complete scans already in {literal(study.out)}")
    others, keys = study.other_settings, list(study.differing)
    if others:
        shown = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
        console.print(
            f"note: {literal(study.out)} holds {others} scan{'s' if others != 1 else ''} made "
            "with other settings "
            f"(the closest differs in {literal(shown)}); this study's scans go beside them, "
            "and show and plot include both",
            soft_wrap=True,
        )


class RunBar:
    """``run``'s bar: one step per run. A grid scan stops at its first divergence, so the total
    is the grid's length per scan, and a scan that stops early advances the bar by the runs it
    skipped."""

    def __init__(self, progress: Progress, study: Study) -> None:
        self.progress = progress
        self.per_scan = study.runs_per_scan
        total = self.per_scan * len(study.tasks) if self.per_scan else None
        self.bar = progress.add_task(f"{len(study.tasks)} scans", total=total)
        self.runs_of: dict[str, int] = {}

    def on_run(self, task: ScanTask, run: RunRecord) -> None:
        self.runs_of[task.task_id] = self.runs_of.get(task.task_id, 0) + 1
        state = " [red]diverged[/red]" if run.diverged else ""
        self.progress.update(
            self.bar,
            advance=1,
            description=f"seed {task.config.seed} sgd {task.config.sgd_seed} c={run.c:.3g}" + state,
        )

    def on_scan(self, task: ScanTask, result: ScanResult) -> None:
        if self.per_scan is not None:
            ran = self.runs_of.get(task.task_id, 0) + len(task.done)
            self.progress.update(self.bar, advance=max(self.per_scan - ran, 0) + len(task.done))

    def on_outcome(self, outcome: Outcome) -> None:
        if not outcome.ok:
            report_failure(self.progress.console, outcome)


class SweepBar:
    """``sweep``'s bar: one step per scan, with the failed and running counts."""

    def __init__(self, progress: Progress, study: Study, executor) -> None:
        self.progress = progress
        self.executor = executor
        self.failed = 0
        self.bar = progress.add_task("scans", total=len(study.tasks), failed=0, running=0)

    def on_outcome(self, outcome: Outcome) -> None:
        if not outcome.ok:
            self.failed += len(outcome.task)
            report_failure(self.progress.console, outcome)
        self.progress.update(
            self.bar,
            advance=len(outcome.task),
            failed=self.failed,
            running=self.executor.in_flight,
        )


def report_failure(console: Console, outcome: Outcome) -> None:
    assert outcome.error is not None
    console.print(
        f"[red]failed[/red] after {outcome.attempts} attempts: " + literal(outcome.error.line())
    )


def print_tables(study: Study, outcome: StudyOutcome, phases: bool) -> None:
    """The critical constants of every point in the file; with ``phases``, first the phase
    table of the study's own first scan (not another setting's the file holds too)."""
    from rich.console import Console

    from phasebench.cli.tables import constants_table, phases_table

    out = Console()
    if phases:
        first = study.configs[0]
        scans = [s for p in outcome.points for s in p.scans if s.scan_id == first.scan_id]
        if scans:
            out.print(phases_table(scans[0]))
    out.print(constants_table(outcome.points))
