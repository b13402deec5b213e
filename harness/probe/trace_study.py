"""Traces as a study: plan them once (every check before any work and before any file is
created), then run them through an executor, one task per (configuration, c), each written as
it goes. What ``phasebench trace`` and ``phasebench sweep --trace`` do, for Python callers too.

    planned = trace_study.plan(configs, "t.h5", components)  # configs: one per c and seed
    outcome = trace_study.execute(planned, components)        # or a started executor

A task carries its configuration (and, resumed, the stored trace and its checkpoint bytes),
never a model. In the process that planned the study (the ``local`` executor) every trace is
written as it goes, at most every ``flush_seconds``, with its checkpoint; a worker process
cannot write the file (the driver is its only writer), so its traces arrive whole when they
finish, and a killed sweep resumes those from their start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from phasebench.config import ProbeConfig
from phasebench.errors import ParameterError
from phasebench.execution import Executor, Outcome
from phasebench.plugins import Components
from phasebench.probe.problem import check_sizes, preflight
from phasebench.probe.study import check_writable, local_executor, smoke_build
from phasebench.probe.trace import FLUSH_SECONDS, check_trace
from phasebench.results.records import TraceRecord


@dataclass(frozen=True)
class TraceTask:
    """One trace to run: its configuration (its c is the trace's) and, resumed, what the file
    holds of it (the record so far and its checkpoint)."""

    config: ProbeConfig
    data_dir: str | None = None
    flush_seconds: float = FLUSH_SECONDS
    resume: tuple[TraceRecord, bytes] | None = None

    @property
    def task_id(self) -> str:
        return self.config.trace_id

    def describe(self) -> dict:
        return self.config.to_dict()


@dataclass(frozen=True)
class TraceStudy:
    configs: tuple[ProbeConfig, ...]
    out: Path
    tasks: tuple[TraceTask, ...]
    skipped: int  # finished traces already in the file
    resumed: int  # unfinished traces continued from their checkpoint


@dataclass
class TraceOutcome:
    path: Path
    done: int
    failed: int
    skipped: int
    errors: list[str] = field(default_factory=list)
    traces: list[TraceRecord] = field(default_factory=list)


def plan(
    configs: Sequence[ProbeConfig],
    out: str | Path,
    components: Components,
    *,
    resume: bool = False,
    data_dir: str | None = None,
    make_dirs: bool = False,
    flush_seconds: float = FLUSH_SECONDS,
) -> TraceStudy:
    """Check every trace before any work and before any file is created; say what is left to
    run in ``out`` (``resume``: skip the finished traces, continue the unfinished ones)."""
    configs = tuple(configs)
    if not configs:
        raise ParameterError("the study is empty; give at least one configuration", "configs")
    if not flush_seconds >= 0:
        raise ParameterError(
            f"flush_seconds must be 0 or more, got {flush_seconds}", "flush_seconds"
        )
    checked: set[ProbeConfig] = set()
    for config in configs:
        check_sizes(config)  # steps first: "every > steps" needs steps >= 1
        check_trace(config)
        key = replace(config, c=1.0, seed=0, sgd_seed=0)
        if key not in checked:  # the components, numbers, dtype, device, data: once each
            preflight(config, components, data_dir)
            checked.add(key)
    smoke_build(configs[0], components, data_dir)
    out = Path(out)
    check_writable(out, make_dirs)
    stored = _stored_traces(out)
    present = [c.trace_id for c in configs if c.trace_id in stored]
    if present and not resume:
        raise ParameterError(
            f"{out} already holds {len(present)} of these traces; pass resume to skip the "
            "finished ones and continue the others, or another out",
            "resume",
        )
    tasks, skipped, resumed = [], 0, 0
    for config in configs:
        record = stored.get(config.trace_id)
        if record is not None and record.finished:
            skipped += 1
            continue
        continued = None
        if record is not None and len(record.measured_step):
            from phasebench.results.reader import read_checkpoint

            blob = read_checkpoint(out, record)
            if blob:
                continued, resumed = (record, blob), resumed + 1
        tasks.append(TraceTask(config, data_dir, float(flush_seconds), continued))
    return TraceStudy(configs, out, tuple(tasks), skipped, resumed)


def _stored_traces(out: Path) -> dict[str, TraceRecord]:
    if not out.exists():
        return {}
    from phasebench.results.reader import load

    return {trace.trace_id: trace for trace in load(out).traces}


def run_task(
    task: TraceTask,
    components: Components,
    sink=None,
    on_measure: Callable[[TraceTask, TraceRecord], None] | None = None,
) -> TraceRecord:
    """One trace, rebuilt from its configuration: lambda0 at the initialization (measured
    again on resume: the same seed gives the same value), then the run."""
    from phasebench.probe import trajectory
    from phasebench.probe.problem import Problem
    from phasebench.probe.trace import run_trace

    problem = Problem.build(task.config, components, task.data_dir)
    begin = trajectory.start(problem)
    measured = None if on_measure is None else (lambda record: on_measure(task, record))
    return run_trace(
        problem,
        begin,
        task.config.c,
        sink=sink,
        resume=task.resume,
        flush_seconds=task.flush_seconds,
        on_measure=measured,
    )


@dataclass(frozen=True)
class TraceRunner:
    """What an executor runs: ``runner(task)`` gives the finished TraceRecord. In the planning
    process it writes through ``sink`` as it goes; pickled for a worker it keeps neither the
    registries nor the writer (``__reduce__``) and its trace travels back whole."""

    components: Components | None = None
    sink: Callable[[TraceRecord, bytes | None], None] | None = None
    on_measure: Callable[[TraceTask, TraceRecord], None] | None = None

    def __call__(self, task: TraceTask) -> TraceRecord:
        components = self.components
        if components is None:  # a worker process: its edge, where the plugins are loaded
            from phasebench import plugins

            components = plugins.components()
        return run_task(task, components, self.sink, self.on_measure)

    def __reduce__(self):
        return (TraceRunner, ())


def open_file(study: TraceStudy):
    from phasebench.results.writer import ResultsWriter

    study.out.parent.mkdir(parents=True, exist_ok=True)
    return ResultsWriter(study.out, append=True)


def execute(
    study: TraceStudy,
    components: Components,
    executor: Executor | None = None,
    *,
    writer=None,
    on_measure: Callable[[TraceTask, TraceRecord], None] | None = None,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    loggers=None,
) -> TraceOutcome:
    """Run a planned trace study through a started ``executor`` (None: ``local``, here) into
    its file. A failed trace is recorded under /failures; the others finish. ``loggers``
    (``phasebench.probe.loggers.Loggers``) are told of each finished trace by this driver,
    after it is in the file."""
    if executor is None:
        with local_executor(components, retries=0, single_thread=False) as here:
            return execute(
                study, components, here, writer=writer, on_measure=on_measure,
                on_outcome=on_outcome, loggers=loggers,
            )  # fmt: skip
    writer = writer or open_file(study)
    if loggers:
        from phasebench.probe.loggers import StudyInfo

        loggers.start(StudyInfo(Path(study.out), len(study.tasks), study.skipped))
    try:
        return _execute(study, components, executor, writer, on_measure, on_outcome, loggers)
    finally:
        if loggers:
            loggers.close()


def _execute(study, components, executor, writer, on_measure, on_outcome, loggers):
    finished: set[str] = set()  # written whole by the sink (this process's traces)

    def sink(record: TraceRecord, blob: bytes | None) -> None:
        writer.write_trace(record, blob)
        if blob is None:
            finished.add(record.trace_id)

    runner = TraceRunner(components, sink, on_measure)
    result = TraceOutcome(study.out, 0, 0, study.skipped)
    for outcome in executor.submit_all(runner, list(study.tasks)):
        task = outcome.task
        if outcome.ok:
            if outcome.value.trace_id not in finished:  # a worker's arrives here, whole
                writer.write_trace(outcome.value, None)
            if loggers:
                loggers.log_trace(outcome.value)
            result.done += 1
            result.traces.append(outcome.value)
        else:
            assert outcome.error is not None
            writer.write_failure(task.task_id, task.describe(), outcome.error.line(),
                                 outcome.attempts)  # fmt: skip
            result.failed += 1
            result.errors.append(outcome.error.line())
        on_outcome(outcome)
    return result
