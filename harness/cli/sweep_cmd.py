"""``phasebench sweep``: a phase diagram, every (depth, width, seed, SGD seed) through an executor.

The driver is the only writer of the results file: workers return records and the driver writes
each scan as it arrives. A task that keeps failing is recorded under /failures; the rest finish.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from phasebench.cli.axis_options import Axis
from phasebench.cli.markup import literal
from phasebench.cli.probe_options import (
    EXTRA_OPTIONS,
    PROBE,
    ProbeArgs,
    apply_cpu_defaults,
    component_options_help,
    flag_names,
    given,
    open_loggers,
    probe_command,
    study_parameters,
)
from phasebench.cli.study_display import (
    SweepBar,
    note_plan,
    print_tables,
    progress_columns,
)
from phasebench.cli.trace_options import (
    DEFAULT_EVERY,
    TRACE,
    Every,
    FlushSeconds,
    TrainExamples,
)
from phasebench.errors import PhasebenchError
from phasebench.probe.paths import default_out
from phasebench.probe.trace_config import traces_of

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()

EXECUTION = "execution"


@commands.command("sweep", context_settings=EXTRA_OPTIONS, epilog=component_options_help())
@probe_command
def sweep(
    ctx: typer.Context,
    probe: ProbeArgs,
    depths: Annotated[
        str | None,
        typer.Option(
            help="Model depths, comma-separated.", show_default=False, rich_help_panel=PROBE
        ),
    ] = None,
    widths: Annotated[
        str | None,
        typer.Option(
            help="Model widths, comma-separated.", show_default=False, rich_help_panel=PROBE
        ),
    ] = None,
    axis: Axis = None,
    executor: Annotated[
        str,
        typer.Option(
            help="local, process, dask, or a plugin's (phasebench list executor).",
            rich_help_panel=EXECUTION,
        ),
    ] = "process",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes (default: the core count).",
            show_default=False,
            rich_help_panel=EXECUTION,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="dask: a running scheduler, tcp://host:port.",
            show_default=False,
            rich_help_panel=EXECUTION,
        ),
    ] = None,
    retries: Annotated[
        int | None,
        typer.Option(
            help="Attempts after the first for a failing task.",
            show_default=False,
            rich_help_panel=EXECUTION,
        ),
    ] = None,
    trace: Annotated[
        bool,
        typer.Option(
            "--trace",
            help="Run traces (phasebench trace) instead of probes: one per point, seed and c "
            "of --c (default 1), --steps steps each.",
            rich_help_panel=TRACE,
        ),
    ] = False,
    every: Every = DEFAULT_EVERY,
    train_examples: TrainExamples = 0,
    flush_seconds: FlushSeconds = 10.0,
) -> None:
    """Run the phase probe over a grid (depths and widths, or any option with --axis) and
    seeds through an executor, into one HDF5 file with the critical constants of every point
    (with --trace: a trace of each point, seed and c)."""
    from phasebench.cli.axis_options import parse_axes
    from phasebench.cli.component_options import component_options
    from phasebench.cli.values import parse_ints
    from phasebench.errors import UsageError
    from phasebench.probe import parameters, study

    executor_opts = [o for o in probe.opt or () if o.startswith("executor.")]
    probe = replace(probe, opt=[o for o in probe.opt or () if not o.startswith("executor.")])
    components, params, file = study_parameters(ctx, probe, sweep_keys(), "sweep")
    own = {"executor": executor, "workers": workers, "scheduler": scheduler, "retries": retries}
    for name in own:
        if name in file and not given(ctx, name):
            own[name] = file[name]
    # --depths/--widths are the axes model.depth and model.width; --axis any other
    geometry = {}
    for name, text in (("depth", depths), ("width", widths)):
        if text is not None and given(ctx, f"{name}s"):
            geometry[f"model.{name}"] = list(parse_ints(text, f"--{name}s"))
        elif f"{name}s" in file:
            geometry[f"model.{name}"] = file[f"{name}s"]
    typed = parse_axes(axis or (), components, params)
    params["axes"] = {**geometry, **(params["axes"] or {}), **typed}
    if not trace:  # a trace's long runs are not the probe the CPU defaults were chosen for
        apply_cpu_defaults(ctx, file, components, params)
    with flag_names():
        search = parameters.search_of(params)
        configs = parameters.configs(components, params)
    executor_registration = components.get("executor", own["executor"])
    chosen = {k: own[k] for k in ("workers", "scheduler", "retries") if own[k] is not None}
    # --opt executor.connect_timeout=5: the same syntax and checks as every component's
    chosen.update(file.get("executor_options") or {})
    chosen.update(
        component_options(components, {"executor": own["executor"]}, (), executor_opts)["executor"]
    )
    executor_options = executor_registration.options(chosen)
    if not configs:
        raise UsageError("the sweep is empty; give at least one depth, width and seed")
    if trace:
        traces = traces_of(
            configs, params["c"], every=every, top_k=params["top_k"], train_examples=train_examples
        )
        _sweep_traces(ctx, params, components, traces, executor_registration,
                      executor_options, flush_seconds)  # fmt: skip
        return
    with flag_names():
        planned = study.plan(
            configs,
            search,
            params["out"] or default_out(f"sweep-{params['model']}"),
            components,
            resume=params["resume"],
            data_dir=params["data_dir"],
            make_dirs=params["out"] is None,
            engine=params.get("engine", "sequential"),
        )
    loggers = open_loggers(ctx, components, planned.out)
    pool = executor_registration.load()(**executor_options)  # bad options: one line
    with pool:  # workers start (or the scheduler answers) before the file is touched
        outcome = run_sweep(planned, components, pool, loggers)
    if outcome.failed and not outcome.done:
        raise PhasebenchError(
            f"every scan failed ({outcome.failed} of {outcome.failed}; the last: "
            f"{outcome.errors[-1]}); they are recorded under /failures in {outcome.path}"
        )


def _sweep_traces(ctx, params, components, traces, registration, executor_options, flush_seconds):
    """``sweep --trace``: a trace of every configuration and c, through the executor."""
    from phasebench.cli.trace_cmd import plan_traces, run_traces

    planned = plan_traces(traces, components, params, flush_seconds, "sweep-trace")
    loggers = open_loggers(ctx, components, planned.out)
    with registration.load()(**executor_options) as pool:
        outcome = run_traces(planned, components, pool, loggers)
    if outcome.failed and not outcome.done:
        raise PhasebenchError(
            f"every trace failed ({outcome.failed} of {outcome.failed}; the last: "
            f"{outcome.errors[-1]}); they are recorded under /failures in {outcome.path}"
        )


def sweep_keys() -> tuple[str, ...]:
    """The keys a ``sweep --config`` file may hold: every study parameter, and the sweep's own
    options (``depths = [2, 4]``, ``executor = "process"``, ``executor_options = {...}``)."""
    from phasebench.probe.parameters import NAMES

    own = ("depths", "widths", "executor", "workers", "scheduler", "retries", "executor_options")
    return (*NAMES, *own)


def run_sweep(planned, components, executor, loggers=None):
    """Run a planned study through a started executor with a bar per scan, then print the
    constants of every point and the counts. ``loggers``: told of every record, by the driver."""
    from rich.console import Console
    from rich.progress import Progress, TextColumn

    from phasebench.cli.job_estimate import announce
    from phasebench.cli.plain_progress import PlainLines
    from phasebench.probe.study import execute, open_file

    console = Console(stderr=True)
    note_plan(planned, console)
    writer = open_file(planned)  # a disk that cannot hold it: one line, before the bar
    parallel = int(getattr(executor, "workers", None) or 1)
    planned, estimate = announce(planned, components, console, parallel)

    def run_with(**callbacks):
        return execute(planned, components, executor, writer=writer, loggers=loggers, **callbacks)

    if console.is_terminal:
        columns = progress_columns(
            TextColumn("failed {task.fields[failed]} running {task.fields[running]}")
        )
        with Progress(*columns, console=console) as progress:
            outcome = run_with(on_outcome=SweepBar(progress, planned, executor).on_outcome)
    else:  # a log file or a pipe: a plain line per finished group of scans
        lines = PlainLines(planned, estimate, per_run=False)
        outcome = run_with(on_run=lines.on_run, on_scan=lines.on_scan, on_outcome=lines.on_outcome)
    print_tables(planned, outcome, phases=False)
    summary = f"{outcome.done} scans done, {outcome.failed} failed, {outcome.skipped} skipped"
    Console().print(f"{summary}; results: {literal(outcome.path)}")
    return outcome
