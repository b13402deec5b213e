"""``phasebench plot FILE.h5``: PNGs of trajectories and phase diagrams. Never imports torch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phasebench.cli.file_options import SharpEpsOverride, check_sharp_eps
from phasebench.cli.probe_options import LoggerNames

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()


@commands.command("plot")
def plot(
    file: Annotated[Path, typer.Argument(help="A results file written by run or sweep.")],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir", help="Where the PNGs go (default: <stem>-plots/ next to the file)."
        ),
    ] = None,
    sharp_eps: SharpEpsOverride = None,
    all_scans: Annotated[
        bool, typer.Option("--all-scans", help="Trajectories of every scan, not the first.")
    ] = False,
    x: Annotated[
        str | None,
        typer.Option(
            "--x",
            help="Draw the phase diagram against this key of the configurations a sweep "
            "varied: batch_size, model.width, optimizer, ...",
            show_default=False,
        ),
    ] = None,
    beside: Annotated[
        list[Path] | None,
        typer.Option(
            help="Another results file (e.g. the same sweep with --lr-unit ggn): the phase "
            "diagrams of the same model in each unit are drawn side by side. Repeat it for "
            "more units.",
            show_default=False,
        ),
    ] = None,
    logger: LoggerNames = None,
    opt: Annotated[
        list[str] | None,
        typer.Option(
            "--opt", help="A logger's option: logger.NAME.OPTION=VALUE.", show_default=False
        ),
    ] = None,
) -> None:
    """Plot a results file: loss and sharpness trajectories normalized by L0 and lambda0 (one
    curve per c) and the critical constants as a phase diagram (c on a log2 axis, the phases
    shaded); for traces, each trace on a log step axis (sharpness with its threshold, loss,
    the regimes shaded) and a summary of the regimes over c. Prints the path of every PNG
    written; ``--logger`` hands each to that logger too (MLflow: artifacts of a run named
    after FILE)."""
    from phasebench.plotting import plot_file

    sharp_eps = check_sharp_eps(sharp_eps)
    loggers = _loggers(file, logger or (), opt or ())
    paths = plot_file(
        file, out_dir, sharp_eps=sharp_eps, all_scans=all_scans, x=x, beside=beside or None
    )
    for path in paths:
        typer.echo(str(path))
    if loggers is not None:
        from phasebench.probe.loggers import StudyInfo

        loggers.start(StudyInfo(file))
        try:
            for path in paths:
                loggers.log_figure(path)
        finally:
            loggers.close()


def _loggers(file: Path, names, opt):
    """The chosen loggers with their ``--opt logger.NAME.X=V`` options (None: none chosen)."""
    if not names:
        return None
    from phasebench.cli.component_options import component_options
    from phasebench.cli.loading import load_components
    from phasebench.probe.loggers import build

    components = load_components()
    roles = {f"logger.{name}": name for name in dict.fromkeys(names)}
    options = component_options(components, roles, (), opt)
    chosen = {name: options[role] for role, name in roles.items()}
    return build(
        components, chosen, file, report=lambda line: typer.echo(f"warning: {line}", err=True)
    )
