"""``phasebench run``: the 10-step phase probe for one point, over seeds and a grid of c."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from phasebench.cli import probe_options as o
from phasebench.cli.app import app

DEFAULTS: dict[str, Any] = {
    "model": "fcn",
    "dataset": "fashion-mnist-subset",
    "init": "he",
    "loss": "mse",
    "optimizer": "sgd",
    "estimator": "lanczos",
}


def default_out(prefix: str) -> Path:
    folder = Path("results")
    folder.mkdir(exist_ok=True)
    return folder / f"{prefix}-{datetime.now():%Y%m%d-%H%M%S}.h5"


def prepare(
    ctx: typer.Context, names: dict[str, str], qualified: list[str] | None, skip=(), **protocol
):
    """Everything ``run`` and ``sweep`` share: the template configuration from the options."""
    from phasebench.cli.component_options import component_options
    from phasebench.cli.loading import load_components
    from phasebench.probe.plan import Choices, template

    components = load_components()
    for field, name in names.items():  # unknown names first: the most common typo
        from phasebench.probe.plan import FIELD_KINDS

        components.get(FIELD_KINDS[field], name)
    options = component_options(components, names, ctx.args, qualified or (), skip)
    return components, options, template(components, Choices(names, options), **protocol)


def search_from(c: str | None, x_min, x_max, x_step, search, tol, sharp_eps):
    from phasebench.probe.grid import Grid, parse_floats
    from phasebench.probe.scan import Search

    values = parse_floats(c, "--c") if c else ()
    return Search(search, Grid(values, x_min, x_max, x_step), tol=tol, sharp_eps=sharp_eps)


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=o.COMPONENT_OPTIONS_HELP,
)
def run(
    ctx: typer.Context,
    model: o.Model = DEFAULTS["model"],
    dataset: o.Dataset = DEFAULTS["dataset"],
    init: o.Init = DEFAULTS["init"],
    loss: o.Loss = DEFAULTS["loss"],
    optimizer: o.Optimizer = DEFAULTS["optimizer"],
    estimator: o.Estimator = DEFAULTS["estimator"],
    opt: o.Opt = None,
    c: o.Cs = None,
    x_min: o.XMin = 0.0,
    x_max: o.XMax = 6.0,
    x_step: o.XStep = 0.1,
    search: o.SearchMode = "grid",
    tol: o.Tol = 0.05,
    steps: o.Steps = 10,
    batch_size: o.BatchSize = 512,
    sharpness_examples: o.SharpExamples = 2048,
    loss_examples: o.LossExamples = 2048,
    seeds: o.Seeds = "1",
    sgd_seeds: o.SgdSeeds = "1",
    sharp_eps: o.SharpEps = 0.0,
    divergence_threshold: o.Threshold = 1e5,
    dtype: o.Dtype = "float32",
    device: o.Device = "cpu",
    data_dir: o.DataDir = None,
    out: o.Out = None,
    resume: o.Resume = False,
) -> None:
    """Run the phase probe: measure lambda0, train 10 steps at eta = c / lambda0 for each c,
    record loss and sharpness per step, and report c_loss, c_sharp, c_barrier and c_max."""
    from phasebench.probe.grid import parse_seeds
    from phasebench.probe.plan import expand, tasks_for
    from phasebench.probe.problem import preflight
    from phasebench.results.writer import ResultsWriter

    names = dict(
        model=model, dataset=dataset, init=init, loss=loss, optimizer=optimizer, estimator=estimator
    )
    plan_search = search_from(c, x_min, x_max, x_step, search, tol, sharp_eps)
    _, _, base = prepare(
        ctx,
        names,
        opt,
        steps=steps,
        batch_size=batch_size,
        sharpness_examples=sharpness_examples,
        loss_examples=loss_examples,
        dtype=dtype,
        device=device,
        divergence_threshold=divergence_threshold,
    )
    preflight(base, _dir(data_dir))
    configs = expand(base, parse_seeds(seeds), parse_seeds(sgd_seeds, "--sgd-seeds"))
    writer = ResultsWriter(out or default_out(model), append=True)
    tasks, skipped = tasks_for(configs, plan_search, writer, resume, _dir(data_dir))
    execute_here(tasks, writer, plan_search, skipped)


def _dir(path: Path | None) -> str | None:
    return None if path is None else str(path)


def execute_here(tasks, writer, plan_search, skipped: int) -> None:
    """Run the scans in this process with a progress bar, then print the tables."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from phasebench.cli.tables import constants_table, phases_table
    from phasebench.probe.driver import finalize, run_in_process

    console = Console(stderr=True)
    per_scan = len(plan_search.grid.cs()) if plan_search.mode == "grid" else None
    if skipped:
        console.print(f"resume: {skipped} complete scans already in {writer.path}")
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
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
    points = finalize(writer, plan_search.sharp_eps)
    out = Console()
    if points and points[0].scans:
        out.print(phases_table(points[0].scans[0]))
    out.print(constants_table(points))
    out.print(f"results: {writer.path}")
