"""``phasebench run``: the 10-step phase probe for one point, over seeds and a grid of c.

The one-point case of ``sweep``: the same plan and the same execution, through the ``local``
executor (this process, every torch thread), with a bar that moves per run and the phase table
of the first scan."""

from __future__ import annotations

import typer

from phasebench.cli.markup import literal
from phasebench.cli.probe_options import (
    EXTRA_OPTIONS,
    ProbeArgs,
    component_options_help,
    flag_names,
    open_loggers,
    prepare,
    probe_command,
)

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()


@commands.command("run", context_settings=EXTRA_OPTIONS, epilog=component_options_help())
@probe_command
def run(ctx: typer.Context, probe: ProbeArgs) -> None:
    """Run the phase probe: measure lambda0, train 10 steps at eta = c / lambda0 for each c,
    record loss and sharpness per step, and report c_loss, c_sharp, c_barrier and c_max."""
    from rich.console import Console
    from rich.progress import Progress

    from phasebench.cli.study_display import (
        RunBar,
        default_out,
        note_plan,
        print_tables,
        progress_columns,
    )
    from phasebench.cli.values import parse_seeds
    from phasebench.errors import PhasebenchError
    from phasebench.probe import study

    search = probe.search_plan()
    components, base = prepare(ctx, probe)
    seeds = parse_seeds(probe.seeds), parse_seeds(probe.sgd_seeds, "--sgd-seeds")
    with flag_names():
        planned = study.plan(
            study.expand(base, *seeds),
            search,
            probe.out or default_out(probe.model),
            components,
            resume=probe.resume,
            data_dir=probe.data_path,
            make_dirs=probe.out is None,
        )
    loggers = open_loggers(ctx, components, planned.out)
    console = Console(stderr=True)
    note_plan(planned, console)
    writer = study.open_file(planned)  # a disk that cannot hold it: one line, before the bar
    with Progress(*progress_columns(), console=console) as progress:
        bar = RunBar(progress, planned)
        outcome = study.execute(
            planned,
            components,
            writer=writer,
            on_run=bar.on_run,
            on_scan=bar.on_scan,
            on_outcome=bar.on_outcome,
            loggers=loggers,
        )
    print_tables(planned, outcome, phases=True)
    Console().print(f"results: {literal(outcome.path)}")
    if outcome.failed:
        raise PhasebenchError(
            f"{outcome.failed} of {outcome.failed + outcome.done} scans failed "
            f"({outcome.errors[0]}); they are recorded under /failures in {outcome.path}"
        )
