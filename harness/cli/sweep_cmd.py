"""``phasebench sweep``: a phase diagram, every (depth, width, seed, SGD seed) through an executor.

The driver is the only writer of the results file: workers return records and the driver writes
each scan as it arrives. A task that keeps failing is recorded under /failures; the rest finish.
"""

from __future__ import annotations

from typing import Annotated

import typer

from phasebench.cli import probe_options as o
from phasebench.cli.app import app
from phasebench.cli.run_cmd import DEFAULTS, default_out, prepare, search_from

EXECUTION = "execution"


@app.command(
    "sweep",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=o.COMPONENT_OPTIONS_HELP,
)
def sweep(
    ctx: typer.Context,
    depths: Annotated[
        str | None,
        typer.Option(
            help="Model depths, comma-separated.", show_default=False, rich_help_panel=o.PROBE
        ),
    ] = None,
    widths: Annotated[
        str | None,
        typer.Option(
            help="Model widths, comma-separated.", show_default=False, rich_help_panel=o.PROBE
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
    """Run the phase probe over a grid of depths and widths (and seeds) through an executor, into
    one HDF5 file with the critical constants of every point."""
    from phasebench.errors import UsageError
    from phasebench.probe.grid import parse_ints, parse_seeds
    from phasebench.probe.plan import expand, tasks_for
    from phasebench.probe.problem import preflight
    from phasebench.results.writer import ResultsWriter

    names = dict(
        model=model, dataset=dataset, init=init, loss=loss, optimizer=optimizer, estimator=estimator
    )
    plan_search = search_from(c, x_min, x_max, x_step, search, tol, sharp_eps)
    components, _, base = prepare(
        ctx,
        names,
        opt,
        skip=("depth", "width"),
        steps=steps,
        batch_size=batch_size,
        sharpness_examples=sharpness_examples,
        loss_examples=loss_examples,
        dtype=dtype,
        device=device,
        divergence_threshold=divergence_threshold,
    )
    axes = {}
    if depths is not None:
        axes["depth"] = parse_ints(depths, "--depths")
    if widths is not None:
        axes["width"] = parse_ints(widths, "--widths")
    grid = [dict(zip(axes, values, strict=True)) for values in _product(list(axes.values()))]
    registration = components.get("model", base.model.name)
    for point in grid[:1]:
        registration.options({**base.model.opts(), **point})  # a model without depth: one line
    executor_registration = components.get("executor", executor)
    given = {
        k: v
        for k, v in (("workers", workers), ("scheduler", scheduler), ("retries", retries))
        if v is not None
    }
    executor_options = executor_registration.options(given)
    preflight(base, None if data_dir is None else str(data_dir))
    configs = expand(base, parse_seeds(seeds), parse_seeds(sgd_seeds, "--sgd-seeds"), grid)
    if not configs:
        raise UsageError("the sweep is empty; give at least one depth, width and seed")
    writer = ResultsWriter(out or default_out(f"sweep-{model}"), append=True)
    tasks, skipped = tasks_for(
        configs, plan_search, writer, resume, None if data_dir is None else str(data_dir)
    )
    make = executor_registration.load()
    run_sweep(tasks, skipped, writer, make(**executor_options), plan_search)


def _product(axes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    import itertools

    return list(itertools.product(*axes)) if axes else [()]


def run_sweep(tasks, skipped, writer, executor, plan_search) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from phasebench.cli.tables import constants_table
    from phasebench.probe.driver import finalize, write_result
    from phasebench.probe.task import group_by_init, run_group_task

    console = Console(stderr=True)
    if skipped:
        console.print(f"resume: {skipped} complete scans already in {writer.path}")
    groups = group_by_init(tasks)
    counts = {"done": 0, "failed": 0}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]} running {task.fields[running]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with executor, Progress(*columns, console=console) as progress:
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
                    f"[red]failed[/red] after {outcome.attempts} attempts: {outcome.error.line()}"
                )
            progress.update(
                bar, advance=len(group), failed=counts["failed"], running=executor.in_flight
            )
    points = finalize(writer, plan_search.sharp_eps)
    out = Console()
    out.print(constants_table(points))
    summary = f"{counts['done']} scans done, {counts['failed']} failed, {skipped} skipped"
    out.print(f"{summary}; results: {writer.path}")
