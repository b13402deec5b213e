"""``phasebench trace``: long runs of one configuration, one per c (and seed), measured every K
steps (loss, training loss, gradient norm, top-k sharpness, eta_t and the optimizer's stability
threshold; with --per-layer, --smallest, --critical also each layer's sharpness, the smallest
eigenvalue and the critical sharpness; with --density-steps the SLQ spectral density after those
steps), written as they go and resumable after a kill."""

from __future__ import annotations

import time

import typer

from phasebench.cli.markup import literal
from phasebench.cli.probe_options import (
    EXTRA_OPTIONS,
    ProbeArgs,
    component_options_help,
    flag_names,
    open_loggers,
    probe_command,
    study_parameters,
)
from phasebench.cli.trace_options import (
    DEFAULT_EVERY,
    DEFAULT_STEPS,
    Every,
    FlushSeconds,
    TraceSteps,
    TrainExamples,
)
from phasebench.probe.trace_config import NOT_TRACED, traces_of

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()

#: The probe's options a trace does not take (``trace_config.NOT_TRACED``), and ``--steps``,
#: which it declares itself (a trace's default is 1,000).
NOT_TRACE = (*NOT_TRACED, "steps")
#: A progress line at most this often per trace (seconds), and at its end.
PROGRESS_SECONDS = 5.0


@commands.command("trace", context_settings=EXTRA_OPTIONS, epilog=component_options_help())
@probe_command(without=NOT_TRACE)
def trace(
    ctx: typer.Context,
    probe: ProbeArgs,
    steps: TraceSteps = DEFAULT_STEPS,
    every: Every = DEFAULT_EVERY,
    train_examples: TrainExamples = 0,
    flush_seconds: FlushSeconds = 10.0,
) -> None:
    """Trace training past the probe's 10 steps: for each c of --c (default 1) and seed, train
    --steps steps at eta = c / lambda0 and measure every --every steps; the file holds each
    trace as it goes (--resume continues a killed one)."""
    from phasebench.errors import PhasebenchError
    from phasebench.probe import parameters

    keys = tuple(name for name in parameters.NAMES if name != parameters.AXES)
    components, params, _ = study_parameters(ctx, probe, keys, "trace")
    params.update(steps=steps, every=every, train_examples=train_examples)
    with flag_names():
        configs = traces_of(
            parameters.configs(components, params),
            params["c"],
            every=every,
            top_k=params["top_k"],
            train_examples=train_examples,
        )
    planned = plan_traces(configs, components, params, flush_seconds, "trace")
    outcome = run_traces(planned, components, loggers=open_loggers(ctx, components, planned.out))
    if outcome.failed:
        raise PhasebenchError(
            f"{outcome.failed} of {outcome.failed + outcome.done} traces failed "
            f"({outcome.errors[0]}); they are recorded under /failures in {outcome.path}"
        )


class ProgressLines:
    """One line per trace on stderr at most every ``PROGRESS_SECONDS``, and when it ends."""

    def __init__(self, console) -> None:
        self.console = console
        self.last: dict[str, float] = {}

    def on_measure(self, task, record) -> None:
        now = time.monotonic()
        ended = record.diverged or int(record.measured_step[-1]) >= record.steps
        if not ended and now - self.last.get(record.trace_id, -1e9) < PROGRESS_SECONDS:
            return
        self.last[record.trace_id] = now
        self.console.print(progress_line(task.config, record), soft_wrap=True, highlight=False)


def progress_line(config, record) -> str:
    from phasebench.analysis.labels import component_label

    step = int(record.measured_step[-1])
    head = (
        f"trace c={record.c:g} seed {config.seed} sgd {config.sgd_seed}: step {step}/{record.steps}"
    )
    model = component_label(record.config["model"], leave_out=("activation", "bias"), sep=",")
    if record.diverged:
        return f"{head} diverged (loss {record.loss[-1]:.4g}) {model}"
    return (
        f"{head} {model} loss {record.loss[-1]:.4g} sharpness {record.sharpness[-1, 0]:.4g} "
        f"threshold {record.threshold[-1]:.4g} ({record.threshold_kind})"
    )


def plan_traces(configs, components, params, flush_seconds, stem):
    """Plan a trace study from the command's parameters (its file: --out, else a new one named
    ``<stem>-<model>``), with bad input named by its flag."""
    from phasebench.probe import trace_study
    from phasebench.probe.paths import default_out

    with flag_names():
        return trace_study.plan(
            configs,
            params["out"] or default_out(f"{stem}-{params['model']}"),
            components,
            resume=params["resume"],
            data_dir=params["data_dir"],
            make_dirs=params["out"] is None,
            flush_seconds=flush_seconds,
        )


def run_traces(planned, components, executor=None, loggers=None):
    """Run a planned trace study with progress lines, then say what the file holds;
    ``loggers`` are told of each finished trace."""
    from rich.console import Console

    from phasebench.probe import trace_study

    console = Console(stderr=True)
    if planned.skipped or planned.resumed:
        console.print(
            f"resume: {planned.skipped} finished traces skipped, {planned.resumed} continued "
            f"from their last measurement in {literal(planned.out)}"
        )
    writer = trace_study.open_file(planned)  # a disk that cannot hold it: one line, first
    lines = ProgressLines(console)

    def report(outcome) -> None:
        if not outcome.ok:
            console.print(
                f"[red]failed[/red] {outcome.task.task_id}: {literal(outcome.error.line())}"
            )
        elif executor is not None:  # a worker's trace: its line when it comes back
            lines.on_measure(outcome.task, outcome.value)

    outcome = trace_study.execute(
        planned,
        components,
        executor,
        writer=writer,
        on_measure=lines.on_measure if executor is None else None,
        on_outcome=report,
        loggers=loggers,
    )
    Console().print(
        f"{outcome.done} traces done, {outcome.failed} failed, {outcome.skipped} skipped; "
        f"results: {literal(outcome.path)}"
    )
    return outcome
