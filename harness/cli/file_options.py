"""Options of the commands that read a results file (``show``, ``plot``). Never imports torch."""

from __future__ import annotations

from typing import Annotated

import typer

from phasebench.errors import UsageError

#: ``--sharp-eps``: recompute c_sharp with this threshold instead of each scan's recorded one.
SharpEpsOverride = Annotated[
    float | None,
    typer.Option(
        "--sharp-eps",
        help="c_sharp threshold: lambda_t / lambda0 > 1 + eps "
        "(default: the value each scan was run with).",
        show_default=False,
    ),
]


def check_sharp_eps(value: float | None) -> float | None:
    """``value`` unchanged, or a one-line UsageError when it is negative."""
    if value is not None and value < 0:
        raise UsageError(f"--sharp-eps must be >= 0, not {value}")
    return value
