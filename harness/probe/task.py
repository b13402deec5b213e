"""The work an executor ships: scans, described by plain picklable data.

Executors call a ``GroupRunner`` on each group, a group being the scans of one initialization
(one lambda0); it rebuilds everything from the configurations (never a live model) and returns
plain records. In the process that planned the study it uses the registries it was given and
reports every run as it finishes; a copy pickled to a worker process carries neither and loads
that process's plugins (the worker's edge, like the CLI's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from phasebench.analysis.phases import Constant, RunSummary
from phasebench.config import ProbeConfig
from phasebench.plugins import Components
from phasebench.probe.scan import Search, run_scan
from phasebench.results.records import RunRecord, ScanRecord


@dataclass(frozen=True)
class ScanTask:
    config: ProbeConfig  # its c is irrelevant: the search decides
    search: Search
    data_dir: str | None = None
    known_start: ScanRecord | None = None  # lambda0 and L0 from a resumed file
    done: dict[str, RunSummary] = field(default_factory=dict)  # runs already in the file
    engine: str = "sequential"  # where the runs execute (phasebench.probe.batched): not hashed

    @property
    def task_id(self) -> str:
        return self.config.scan_id

    def describe(self) -> dict[str, Any]:
        return {**self.config.to_dict(), "search": self.search.to_dict()}


@dataclass
class ScanResult:
    start: ScanRecord
    runs: list[RunRecord]
    constants: dict[str, Constant]


def shared_start(start: ScanRecord, config: ProbeConfig) -> ScanRecord:
    """The same initialization's lambda0 and L0, named for another scan of it (another SGD
    seed: the initialization, and so lambda0, depends only on the init seed)."""
    return replace(start, scan_id=config.scan_id, config=config.to_dict())


def init_key(config: ProbeConfig) -> tuple[str, int]:
    return config.point_id, config.seed


def run_scan_task(
    task: ScanTask,
    components: Components,
    start: ScanRecord | None = None,
    on_start=None,
    on_run=None,
) -> ScanResult:
    """One scan. ``start``: lambda0 and L0 of the same initialization, measured by another scan."""
    known = task.known_start or (None if start is None else shared_start(start, task.config))
    outcome = run_scan(
        task.config,
        task.search,
        components,
        data_dir=task.data_dir,
        done=task.done,
        known_start=known,
        on_start=on_start,
        on_run=on_run,
        engine=task.engine,
    )
    return ScanResult(outcome.start, outcome.runs, outcome.constants)


def group_by_init(tasks: list[ScanTask]) -> list[tuple[ScanTask, ...]]:
    """Scans that share an initialization (differing only in the SGD seed), kept together so
    they share one lambda0 measurement."""
    groups: dict[tuple[str, int], list[ScanTask]] = {}
    for task in tasks:
        groups.setdefault(init_key(task.config), []).append(task)
    return [tuple(group) for group in groups.values()]


def run_group(
    group: Sequence[ScanTask],
    components: Components,
    on_start: Callable[[ScanRecord], None] | None = None,
    on_run: Callable[[ScanTask, RunRecord], None] | None = None,
) -> Iterator[tuple[ScanTask, ScanResult]]:
    """The scans of one initialization in turn, lambda0 measured once (or taken from a resumed
    file) and shared by the rest."""
    start = next((t.known_start for t in group if t.known_start is not None), None)
    for task in group:
        runs = None if on_run is None else (lambda run, task=task: on_run(task, run))
        result = run_scan_task(task, components, start, on_start=on_start, on_run=runs)
        start = start or result.start
        yield task, result


class Listener(Protocol):
    """What a ``GroupRunner`` in the planning process reports as it goes (the results writer
    and the progress display listen)."""

    def scan_started(self, start: ScanRecord) -> None: ...

    def run_finished(self, task: ScanTask, run: RunRecord) -> None: ...

    def scan_finished(self, task: ScanTask, result: ScanResult) -> None: ...


@dataclass(frozen=True)
class GroupRunner:
    """What an executor runs: ``runner(group)`` gives the results of the scans of one
    initialization, lambda0 measured once.

    ``components`` and ``listener`` serve the process that planned the study (the ``local``
    executor): the study's registries, and every run reported the moment it finishes. Pickled
    for another process, a runner keeps neither (see ``__reduce__``): a worker loads its own
    plugins, and its results travel back whole.
    """

    components: Components | None = None
    listener: Listener | None = None

    def __call__(self, group: tuple[ScanTask, ...]) -> list[ScanResult]:
        components = self.components
        if components is None:  # a worker process: its edge, where the plugins are loaded
            from phasebench import plugins

            components = plugins.components()
        listener = self.listener
        results = []
        for task, result in run_group(
            group,
            components,
            on_start=None if listener is None else listener.scan_started,
            on_run=None if listener is None else listener.run_finished,
        ):
            if listener is not None:
                listener.scan_finished(task, result)
            results.append(result)
        return results

    def __reduce__(self):
        return (GroupRunner, ())


def run_group_task(group: tuple[ScanTask, ...]) -> list[ScanResult]:
    """The scans of one initialization, in a process that loads its own plugins."""
    return GroupRunner()(group)
