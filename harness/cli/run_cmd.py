"""``phasebench run``: the 10-step phase probe for one point, over seeds and a grid of c."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import typer

from phasebench.cli.markup import literal
from phasebench.cli.probe_options import COMPONENT_OPTIONS_HELP, ProbeArgs, probe_command

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()

EXTRA_OPTIONS = {"allow_extra_args": True, "ignore_unknown_options": True}


def default_out(prefix: str) -> Path:
    folder = Path("results")
    folder.mkdir(exist_ok=True)
    return folder / f"{prefix}-{datetime.now():%Y%m%d-%H%M%S}.h5"


def prepare(ctx: typer.Context, probe: ProbeArgs, skip: Sequence[str] = ()):
    """What ``run`` and ``sweep`` share: the registries, and the template configuration with
    every component's options complete. Unknown names and options fail with one line."""
    from phasebench.cli.component_options import component_options
    from phasebench.cli.loading import load_components
    from phasebench.probe.plan import FIELD_KINDS, Choices, template

    components = load_components()
    names = probe.names()
    for field, name in names.items():  # unknown names first: the most common typo
        components.get(FIELD_KINDS[field], name)
    options = component_options(components, names, ctx.args, probe.opt or (), skip)
    return components, template(components, Choices(names, options), **probe.protocol())


def planned_tasks(configs, search, writer, probe: ProbeArgs):
    """The scans to run into ``writer``'s file (the complete ones skipped with ``--resume``)
    and how many were skipped; says on stderr when the file holds scans of other settings."""
    from phasebench.probe.plan import tasks_for
    from phasebench.results.reader import load

    stored = load(writer.path)["scans"]
    tasks, skipped = tasks_for(configs, search, writer.path, stored, probe.resume, probe.data_path)
    note_setting_drift(writer.path, configs, stored)
    return tasks, skipped


def note_setting_drift(path, configs, stored) -> None:
    """On stderr: the file holds scans made with other settings, and which keys differ."""
    from rich.console import Console

    from phasebench.probe.plan import setting_drift

    others, keys = setting_drift(configs, stored)
    if others:
        shown = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
        Console(stderr=True).print(
            f"note: {literal(path)} holds {others} scan{'s' if others != 1 else ''} made "
            "with other settings "
            f"(the closest differs in {literal(shown)}); this study's scans go beside them, "
            "and show and plot include both",
            soft_wrap=True,
        )


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


@commands.command("run", context_settings=EXTRA_OPTIONS, epilog=COMPONENT_OPTIONS_HELP)
@probe_command
def run(ctx: typer.Context, probe: ProbeArgs) -> None:
    """Run the phase probe: measure lambda0, train 10 steps at eta = c / lambda0 for each c,
    record loss and sharpness per step, and report c_loss, c_sharp, c_barrier and c_max."""
    from phasebench.probe.grid import parse_seeds
    from phasebench.probe.plan import expand
    from phasebench.probe.problem import preflight
    from phasebench.results.writer import ResultsWriter

    search = probe.search_plan()
    _, base = prepare(ctx, probe)
    preflight(base, probe.data_path)
    configs = expand(base, parse_seeds(probe.seeds), parse_seeds(probe.sgd_seeds, "--sgd-seeds"))
    writer = ResultsWriter(probe.out or default_out(probe.model), append=True)
    tasks, skipped = planned_tasks(configs, search, writer, probe)
    execute_here(tasks, writer, search, skipped)


def execute_here(tasks, writer, search, skipped: int) -> None:
    """Run the scans in this process with a progress bar, then print the tables."""
    from rich.console import Console
    from rich.progress import Progress

    from phasebench.cli.tables import constants_table, phases_table
    from phasebench.probe.driver import run_in_process
    from phasebench.results.points import finalize

    console = Console(stderr=True)
    per_scan = len(search.grid.cs()) if search.mode == "grid" else None
    if skipped:
        console.print(f"resume: {skipped} complete scans already in {literal(writer.path)}")
    with Progress(*progress_columns(), console=console) as progress:
        # A grid scan stops at its first divergence: the bar's total is the grid's length per
        # scan, and a scan that stops early advances the bar by the runs it skipped.
        total = per_scan * len(tasks) if per_scan else None
        bar = progress.add_task(f"{len(tasks)} scans", total=total)
        runs_of: dict[str, int] = {}

        def on_run(task, run) -> None:
            runs_of[task.task_id] = runs_of.get(task.task_id, 0) + 1
            state = " [red]diverged[/red]" if run.diverged else ""
            progress.update(
                bar,
                advance=1,
                description=f"seed {task.config.seed} sgd {task.config.sgd_seed} c={run.c:.3g}"
                + state,
            )

        def on_scan(task, constants) -> None:
            if per_scan is not None:
                ran = runs_of.get(task.task_id, 0) + len(task.done)
                progress.update(bar, advance=max(per_scan - ran, 0) + len(task.done))

        run_in_process(tasks, writer, on_run, on_scan)
    points = finalize(writer)
    out = Console()
    if points and points[0].scans:
        out.print(phases_table(points[0].scans[0]))
    out.print(constants_table(points))
    out.print(f"results: {literal(writer.path)}")
