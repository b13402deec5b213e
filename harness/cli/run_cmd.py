"""``phasebench run``: the 10-step phase probe for one point, over seeds and a grid of c.

The one-point case of ``sweep``: the same plan and the same execution, through the ``local``
executor (this process, every torch thread), with a bar that moves per run and the phase table
of the first scan. ``--config FILE.toml`` reads the parameters from a file (the command line
overrides it); ``--rerun FILE.h5 [--scan ID]`` runs again exactly what a results file stores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phasebench.cli.markup import literal
from phasebench.cli.probe_options import (
    EXTRA_OPTIONS,
    OUTPUT,
    SHARED,
    ProbeArgs,
    apply_cpu_defaults,
    component_options_help,
    flag_names,
    given,
    open_loggers,
    probe_command,
    study_parameters,
)

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()

Rerun = Annotated[
    Path | None,
    typer.Option(
        help="Run again exactly what this results file stores, into a new file.",
        rich_help_panel=OUTPUT,
        show_default=False,
    ),
]
ScanId = Annotated[
    str | None,
    typer.Option(
        "--scan",
        help="With --rerun: only this scan (its id, or a unique prefix).",
        rich_help_panel=OUTPUT,
        show_default=False,
    ),
]
#: What a rerun still takes from the command line: where it runs and writes.
RERUN_OPTIONS = ("out", "device", "data_dir")


def run_keys() -> tuple[str, ...]:
    """The keys a ``run --config`` file may hold: every study parameter but a sweep's axes."""
    from phasebench.probe.parameters import AXES, NAMES

    return tuple(name for name in NAMES if name != AXES)


@commands.command("run", context_settings=EXTRA_OPTIONS, epilog=component_options_help())
@probe_command
def run(ctx: typer.Context, probe: ProbeArgs, rerun: Rerun = None, scan: ScanId = None) -> None:
    """Run the phase probe: measure lambda0, train 10 steps at eta = c / lambda0 for each c,
    record loss and sharpness per step, and report c_loss, c_sharp, c_barrier and c_max."""
    from phasebench.errors import UsageError
    from phasebench.probe import parameters, study
    from phasebench.probe.paths import default_out

    if rerun is None:
        if scan is not None:
            raise UsageError("--scan picks a scan of --rerun FILE; pass --rerun too")
        components, params, file = study_parameters(ctx, probe, run_keys(), "run")
        apply_cpu_defaults(ctx, file, components, params)
        with flag_names():
            search = parameters.search_of(params)
            planned = [
                study.plan(
                    parameters.configs(components, params),
                    search,
                    params["out"] or default_out(params["model"]),
                    components,
                    resume=params["resume"],
                    data_dir=params["data_dir"],
                    make_dirs=params["out"] is None,
                    engine=params.get("engine", "sequential"),
                )
            ]
    else:
        from phasebench.cli.loading import load_components
        from phasebench.cli.rerun import check_alone, rerun_studies

        check_alone([n for n, _, _ in SHARED if n not in RERUN_OPTIONS and given(ctx, n)], ctx.args)
        overrides = {"device": probe.device, "data_dir": probe.data_path}
        out = probe.out or default_out(f"rerun-{rerun.stem}")
        components = load_components()
        planned = rerun_studies(components, rerun, scan, overrides, out, probe.out is None)
    for one in planned:
        _run_planned(one, components, open_loggers(ctx, components, one.out))


def _run_planned(planned, components, loggers) -> None:
    """Execute a planned study with a bar per run, then print its tables."""
    from rich.console import Console
    from rich.progress import Progress

    from phasebench.cli.job_estimate import announce
    from phasebench.cli.plain_progress import PlainLines
    from phasebench.cli.study_display import RunBar, note_plan, print_tables, progress_columns
    from phasebench.errors import PhasebenchError
    from phasebench.probe import study

    console = Console(stderr=True)
    note_plan(planned, console)
    writer = study.open_file(planned)  # a disk that cannot hold it: one line, before the bar
    planned, estimate = announce(planned, components, console)

    def run_with(watcher):  # a bar on a terminal, plain lines as runs finish in a log or pipe
        return study.execute(
            planned,
            components,
            writer=writer,
            on_run=watcher.on_run,
            on_scan=watcher.on_scan,
            on_outcome=watcher.on_outcome,
            loggers=loggers,
        )

    if console.is_terminal:
        with Progress(*progress_columns(), console=console) as progress:
            outcome = run_with(RunBar(progress, planned))
    else:
        outcome = run_with(PlainLines(planned, estimate, per_run=True))
    print_tables(planned, outcome, phases=True)
    Console().print(f"results: {literal(outcome.path)}")
    if outcome.failed:
        raise PhasebenchError(
            f"{outcome.failed} of {outcome.failed + outcome.done} scans failed "
            f"({outcome.errors[0]}); they are recorded under /failures in {outcome.path}"
        )
