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
    COMPONENT_OPTIONS_HELP,
    PROBE,
    ProbeArgs,
    probe_command,
)
from phasebench.cli.run_cmd import (
    EXTRA_OPTIONS,
    default_out,
    planned_tasks,
    prepare,
    progress_columns,
)

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()

EXECUTION = "execution"


@commands.command("sweep", context_settings=EXTRA_OPTIONS, epilog=COMPONENT_OPTIONS_HELP)
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
    from phasebench.errors import UsageError
    from phasebench.probe.grid import parse_ints, parse_seeds
    from phasebench.probe.plan import expand
    from phasebench.probe.problem import preflight
    from phasebench.results.writer import ResultsWriter

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
    preflight(base, probe.data_path)
    seeds = parse_seeds(probe.seeds), parse_seeds(probe.sgd_seeds, "--sgd-seeds")
    configs = expand(base, *seeds, grid)
    if not configs:
        raise UsageError("the sweep is empty; give at least one depth, width and seed")
    pool = executor_registration.load()(**executor_options)  # bad options: one line
    with pool:  # workers start (or the scheduler answers) before the file is touched
        writer = ResultsWriter(probe.out or default_out(f"sweep-{probe.model}"), append=True)
        tasks, skipped = planned_tasks(configs, search, writer, probe)
        run_sweep(tasks, skipped, writer, pool, search)


def _product(axes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    import itertools

    return list(itertools.product(*axes)) if axes else [()]


def run_sweep(tasks, skipped, writer, executor, search) -> None:
    """Submit the scans, grouped by initialization, to a started executor; write each result
    as it arrives (this process is the file's only writer)."""
    from rich.console import Console
    from rich.progress import Progress, TextColumn

    from phasebench.cli.tables import constants_table
    from phasebench.probe.driver import write_result
    from phasebench.probe.task import group_by_init, run_group_task
    from phasebench.results.points import finalize

    console = Console(stderr=True)
    if skipped:
        console.print(f"resume: {skipped} complete scans already in {literal(writer.path)}")
    groups = group_by_init(tasks)
    counts = {"done": 0, "failed": 0}
    columns = progress_columns(
        TextColumn("failed {task.fields[failed]} running {task.fields[running]}")
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("scans", total=len(tasks), failed=0, running=0)
        for outcome in executor.submit_all(run_group_task, groups):
            group = outcome.task
            if outcome.ok:
                for task, result in zip(group, outcome.value, strict=True):
                    write_result(writer, task, result)
                counts["done"] += len(group)
            else:
                for task in group:
                    writer.write_failure(
                        task.task_id, task.describe(), outcome.error.line(), outcome.attempts
                    )
                counts["failed"] += len(group)
                console.print(
                    f"[red]failed[/red] after {outcome.attempts} attempts: "
                    + literal(outcome.error.line())
                )
            progress.update(
                bar, advance=len(group), failed=counts["failed"], running=executor.in_flight
            )
    points = finalize(writer)
    out = Console()
    out.print(constants_table(points))
    summary = f"{counts['done']} scans done, {counts['failed']} failed, {skipped} skipped"
    out.print(f"{summary}; results: {literal(writer.path)}")
