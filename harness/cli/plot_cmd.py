"""``phasebench plot FILE.h5``: PNGs of trajectories and phase diagrams. Never imports torch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phasebench.cli.file_options import SharpEpsOverride, check_sharp_eps

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
        Path | None,
        typer.Option(
            help="Another results file (e.g. the same sweep with --lr-unit ggn): the phase "
            "diagrams of the same model in each unit are drawn side by side.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Plot a results file: loss and sharpness trajectories normalized by L0 and lambda0 (one
    curve per c) and the critical constants as a phase diagram (c on a log2 axis, the phases
    shaded); for traces, each trace on a log step axis (sharpness with its threshold, loss,
    the regimes shaded) and a summary of the regimes over c. Prints the path of every PNG
    written."""
    from phasebench.plotting import plot_file

    sharp_eps = check_sharp_eps(sharp_eps)
    for path in plot_file(
        file, out_dir, sharp_eps=sharp_eps, all_scans=all_scans, x=x, beside=beside
    ):
        typer.echo(str(path))
