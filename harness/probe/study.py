"""A study: plan it once, then execute it. What ``run`` and ``sweep`` do, for Python callers too.

``plan(configs, search, out, components)`` checks everything before any work and before any
file is created, with the registries it is given (never the process's global ones): each
distinct configuration's components, options, numbers, dtype, device and data once, the first
configuration's components built once, the output file writable, and what the file already
holds (``resume``). ``execute(study, components, executor)`` runs the scans through an executor
(``local`` when none is given), grouped by initialization, and writes every record the moment
it exists; it then stores each point's aggregates.

    from phasebench import kinds, plugins
    from phasebench.probe import study

    components = plugins.components()  # or plugins.load_components(extra_plugins=[...])
    names = {kind.field: kind.default for kind in kinds.probe_kinds()}
    base = study.template(components, study.Choices(names, {"model": {"width": 64}}))
    planned = study.plan(study.expand(base, [0, 1], [0]), study.Search(), "p.h5", components)
    outcome = study.execute(planned, components)  # or a started executor, e.g. "process"
    outcome.points  # every point of the file, with its aggregates
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from phasebench.config import ProbeConfig
from phasebench.errors import ParameterError
from phasebench.execution import Executor, Outcome
from phasebench.plugins import Components
from phasebench.probe.plan import Choices, expand, setting_drift, tasks_for, template
from phasebench.probe.problem import Problem, check_sizes, preflight
from phasebench.probe.scan import Search
from phasebench.probe.task import GroupRunner, ScanResult, ScanTask, group_by_init
from phasebench.results.records import RunRecord

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.probe.loggers import Loggers
    from phasebench.results.summary import PointSummary
    from phasebench.results.writer import ResultsWriter

__all__ = [
    "Choices",
    "Search",
    "Study",
    "StudyOutcome",
    "execute",
    "open_file",
    "expand",
    "plan",
    "template",
]


@dataclass(frozen=True)
class Study:
    """A validated plan: the configurations, the search, the output file and the scans still
    to run in it (the complete ones skipped with ``resume``)."""

    configs: tuple[ProbeConfig, ...]
    search: Search
    out: Path
    tasks: tuple[ScanTask, ...]
    skipped: int  # complete scans already in the file
    other_settings: int = 0  # scans in the file made with other settings
    differing: tuple[str, ...] = ()  # the keys in which the closest of them differs
    data_dir: str | None = None

    @property
    def runs_per_scan(self) -> int | None:
        """The most runs a scan makes (a grid scan stops at its first divergence); None when
        the search decides as it goes (bisect)."""
        return self.search.grid.count() if self.search.mode == "grid" else None


@dataclass
class StudyOutcome:
    """What ``execute`` did: scans done and failed (with their errors), and every point of the
    file with its aggregates."""

    path: Path
    done: int
    failed: int
    skipped: int
    errors: list[str] = field(default_factory=list)
    points: list[PointSummary] = field(default_factory=list)
    recreated: int = 0  # times the file was deleted while the study ran, and made again


def plan(
    configs: Sequence[ProbeConfig],
    search: Search,
    out: str | Path,
    components: Components,
    *,
    resume: bool = False,
    data_dir: str | None = None,
    make_dirs: bool = False,
    engine: str = "sequential",
) -> Study:
    """Check a study once, before any work and before any file is created, and say what is
    left to run. Bad input raises one ``UsageError`` naming the parameter. ``make_dirs``: the
    folder of ``out`` may be missing; ``execute`` makes it. ``engine``: ``sequential`` or
    ``batched`` (``phasebench.probe.batched``; the same runs, executed together)."""
    from phasebench.probe.batched import check_engine, check_supported

    check_engine(engine)
    configs = tuple(configs)
    if not configs:
        raise ParameterError("the study is empty; give at least one configuration", "configs")
    checked: set[ProbeConfig] = set()
    for config in configs:
        key = replace(config, c=1.0, seed=0, sgd_seed=0)
        if key not in checked:  # the components, numbers, dtype, device, data: once each
            preflight(config, components, data_dir)
            checked.add(key)
        else:
            check_sizes(config)  # the seeds of each
    smoke_build(configs[0], components, data_dir)
    out = Path(out)
    check_writable(out, make_dirs)
    stored = _stored_scans(out)
    tasks, skipped = tasks_for(configs, search, out, stored, resume, data_dir)
    if engine != "sequential":
        for config in configs:
            check_supported(config)
        tasks = [replace(task, engine=engine) for task in tasks]
    others, keys = setting_drift(configs, stored)
    return Study(configs, search, out, tuple(tasks), skipped, others, tuple(keys), data_dir)


def smoke_build(config: ProbeConfig, components: Components, data_dir: str | None) -> None:
    """Build the first configuration's loss, model, initialization and optimizer once: a
    component that raises is refused now, in one line naming it and its plugin."""
    problem = Problem.build(config, components, data_dir, name_errors=True)
    model = problem.initial_model()
    problem.optimizer(model, 1.0)


def check_writable(out: Path, make_dirs: bool = False) -> None:
    """The results file can be created (or appended to): one line naming ``out`` if not. With
    ``make_dirs`` the nearest existing folder above it must be writable."""
    parent = out.parent
    if make_dirs:
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    if not parent.is_dir():
        raise ParameterError(
            f"cannot write {out}: directory {parent} does not exist; create it or pass another out",
            "out",
        )
    try:
        if out.exists():
            with open(out, "r+b"):
                pass
        else:
            with tempfile.TemporaryFile(dir=parent):
                pass
    except OSError as exc:
        where = out if out.exists() else f"in directory {parent}"
        raise ParameterError(
            f"cannot write {where} ({exc.strerror or exc}); pass another out", "out"
        ) from None


def _stored_scans(out: Path) -> dict:
    if not out.exists():
        return {}
    from phasebench.results.reader import load

    return load(out)["scans"]


def local_executor(components: Components, **options) -> Executor:
    """The registered ``local`` executor (this process, one task after another)."""
    registration = components.get("executor", "local")
    return registration.load()(**registration.options(options))


def open_file(study: Study) -> ResultsWriter:
    """Create the study's results file (its folder too), or open the one it appends to."""
    from phasebench.results.writer import ResultsWriter

    study.out.parent.mkdir(parents=True, exist_ok=True)
    return ResultsWriter(study.out, append=True)


def execute(
    study: Study,
    components: Components,
    executor: Executor | None = None,
    *,
    writer: ResultsWriter | None = None,
    on_run: Callable[[ScanTask, RunRecord], None] = lambda task, run: None,
    on_scan: Callable[[ScanTask, ScanResult], None] = lambda task, result: None,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    loggers: Loggers | None = None,
) -> StudyOutcome:
    """Run a planned study through a started ``executor`` (None: ``local`` without retries, on
    every torch thread, started here) into its file. Every run is written the moment it is
    known: in this process as it finishes, from a worker when its group returns.
    ``on_run``/``on_scan`` are told after each record is written, ``on_outcome`` after each
    group (a progress display). ``writer``: the file ``open_file`` opened (by default it is
    opened here). ``loggers`` (``phasebench.probe.loggers.build``): the experiment trackers,
    told of every scan, run and set of constants after it is written, here in the driver
    (never in a worker), and closed at the end; one that fails is reported and dropped."""
    from phasebench.probe.loggers import Loggers

    if executor is None:
        with local_executor(components, retries=0, single_thread=False) as here:
            return execute(
                study,
                components,
                here,
                writer=writer,
                on_run=on_run,
                on_scan=on_scan,
                on_outcome=on_outcome,
                loggers=loggers,
            )
    trackers = loggers if loggers is not None else Loggers()
    try:
        return _execute(study, components, executor, writer, on_run, on_scan, on_outcome, trackers)
    finally:
        trackers.close()


def _execute(study, components, executor, writer, on_run, on_scan, on_outcome, trackers):
    from phasebench.probe.driver import Recorder
    from phasebench.probe.loggers import StudyInfo
    from phasebench.results.points import finalize

    def run_written(task: ScanTask, run: RunRecord) -> None:
        trackers.log_run(run)
        on_run(task, run)

    def scan_written(task: ScanTask, result: ScanResult) -> None:
        trackers.log_constants(result.start, result.constants)
        on_scan(task, result)

    recorder = Recorder(writer or open_file(study), run_written, scan_written, trackers.log_scan)
    trackers.start(StudyInfo(study.out, len(study.tasks), study.skipped, study.runs_per_scan))
    runner = GroupRunner(components, recorder)
    result = StudyOutcome(study.out, 0, 0, study.skipped)
    for outcome in executor.submit_all(runner, group_by_init(list(study.tasks))):
        group = outcome.task
        if outcome.ok:
            recorder.group_finished(group, outcome.value)
            result.done += len(group)
        else:
            assert outcome.error is not None
            recorder.group_failed(group, outcome.error.line(), outcome.attempts)
            result.failed += len(group)
            result.errors.append(outcome.error.line())
        on_outcome(outcome)
    result.points = finalize(recorder.writer)
    result.recreated = recorder.recreated
    return result
