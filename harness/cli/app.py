"""The Typer application and its error policy.

Known errors (``PhasebenchError``) become one line on stderr and a non-zero exit code; the
traceback is shown only with ``PHASEBENCH_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
import typer
from typer.core import TyperGroup

from phasebench.errors import PhasebenchError


def debug_enabled() -> bool:
    return os.environ.get("PHASEBENCH_DEBUG", "") not in ("", "0")


def error_line(message: str) -> None:
    """Print one unwrapped line to stderr (Rich would wrap it at the terminal width)."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


class _PhasebenchGroup(TyperGroup):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PhasebenchError as exc:
            if debug_enabled():
                raise
            error_line(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            error_line("interrupted; finished runs are saved")
            raise typer.Exit(130) from None


def new_app() -> typer.Typer:
    """The root ``phasebench`` application with the error policy, and no commands yet
    (``phasebench.cli.main.build_app`` installs them)."""
    return typer.Typer(
        name="phasebench",
        cls=_PhasebenchGroup,
        help="The 10-step phase probe of early training (Kalra & Barkeshli 2023), "
        "for any model, dataset, initialization, optimizer and sharpness estimator.",
        rich_markup_mode="markdown",
        no_args_is_help=False,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
