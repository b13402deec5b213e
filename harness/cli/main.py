"""Entry point of the ``phasebench`` command. Importing it must not import torch."""

from __future__ import annotations

from typing import Annotated

import typer

from phasebench import __version__
from phasebench.cli import (
    components_cmd,  # noqa: F401  (registers `list` and `plugins`)
    data_cmd,  # noqa: F401  (registers `data status` and `data fetch`)
    plot_cmd,  # noqa: F401  (registers `plot`)
    run_cmd,  # noqa: F401  (registers `run`)
    sharpness_cmd,  # noqa: F401  (registers `sharpness` and `bench`)
    show_cmd,  # noqa: F401  (registers `show`)
    sweep_cmd,  # noqa: F401  (registers `sweep`)
)
from phasebench.cli.app import app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"phasebench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """phasebench: phase diagrams of early training you can trust."""


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
