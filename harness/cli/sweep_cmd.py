"""``phasebench sweep``: a phase diagram, every (depth, width, seed, SGD seed) through an executor.

The driver is the only writer of the results file: workers return records and the driver writes
each scan as it arrives. A task that keeps failing is recorded under /failures; the rest finish.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from phasebench.cli.markup import literal
from phasebench.cli.probe_options import (
    EXTRA_OPTIONS,
    PROBE,
    ProbeArgs,
    component_options_help,
    flag_names,
    open_loggers,
    prepare,
    probe_command,
)
from phasebench.cli.study_display import (
    SweepBar,
    default_out,
    note_plan,
    print_tables,
    progress_columns,
)
from phasebench.errors import PhasebenchError

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
) -> None:
    """Run the phase probe over a grid of depths and widths (and seeds) through an executor, into
    one HDF5 file with the critical constants of every point."""
    from phasebench.cli.component_options import component_options
    from phasebench.cli.values import parse_ints, parse_seeds
    from phasebench.errors import UsageError
    from phasebench.probe import study

    search = probe.search_plan()
    executor_opts = [o for o in probe.opt or () if o.startswith("executor.")]
    probe = replace(probe, opt=[o for o in probe.opt or () if not o.startswith("executor.")])
    components, base = prepare(ctx, probe, skip=("depth", "width"))
    axes = {}
    if depths is not None:
        axes["depth"] = parse_ints(depths, "--depths")
    if widths is not None:
        axes["width"] = parse_ints(widths, "--widths")
    grid = [dict(zip(axes, values, strict=True)) for values in _product(list(axes.values()))]
    # a model without depth or width options: one line, before anything runs
    components.get("model", base.model.name).options({**base.model.opts(), **grid[0]})
    executor_registration = components.get("executor", executor)
    given = {
        k: v
        for k, v in (("workers", workers), ("scheduler", scheduler), ("retries", retries))
        if v is not None
    }
    # --opt executor.connect_timeout=5: the same syntax and checks as every component's
    given.update(
        component_options(components, {"executor": executor}, (), executor_opts)["executor"]
    )
    executor_options = executor_registration.options(given)
    seeds = parse_seeds(probe.seeds), parse_seeds(probe.sgd_seeds, "--sgd-seeds")
    configs = study.expand(base, *seeds, grid)
    if not configs:
        raise UsageError("the sweep is empty; give at least one depth, width and seed")
    with flag_names():
        planned = study.plan(
            configs,
            search,
            probe.out or default_out(f"sweep-{probe.model}"),
            components,
            resume=probe.resume,
            data_dir=probe.data_path,
            make_dirs=probe.out is None,
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


def _product(axes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    import itertools

    return list(itertools.product(*axes)) if axes else [()]


def run_sweep(planned, components, executor, loggers=None):
    """Run a planned study through a started executor with a bar per scan, then print the
    constants of every point and the counts. ``loggers``: told of every record, by the driver."""
    from rich.console import Console
    from rich.progress import Progress, TextColumn

    from phasebench.probe.study import execute, open_file

    console = Console(stderr=True)
    note_plan(planned, console)
    writer = open_file(planned)  # a disk that cannot hold it: one line, before the bar
    columns = progress_columns(
        TextColumn("failed {task.fields[failed]} running {task.fields[running]}")
    )
    with Progress(*columns, console=console) as progress:
        bar = SweepBar(progress, planned, executor)
        outcome = execute(
            planned,
            components,
            executor,
            writer=writer,
            on_outcome=bar.on_outcome,
            loggers=loggers,
        )
    print_tables(planned, outcome, phases=False)
    summary = f"{outcome.done} scans done, {outcome.failed} failed, {outcome.skipped} skipped"
    Console().print(f"{summary}; results: {literal(outcome.path)}")
    return outcome
