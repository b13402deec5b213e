"""The options of a trace, declared once: ``phasebench trace`` and ``phasebench sweep --trace``
take them (the rest are the probe's, ``phasebench.cli.probe_options``)."""

from __future__ import annotations

from typing import Annotated

import typer

from phasebench.probe.trace_config import DEFAULT_EVERY, DEFAULT_STEPS, traced

__all__ = ["DEFAULT_EVERY", "DEFAULT_STEPS", "Every", "FlushSeconds", "TraceSteps"]
__all__ += ["TrainExamples", "traced"]

TRACE = "trace"

TraceSteps = Annotated[int, typer.Option("--steps", help="Steps per trace.", rich_help_panel=TRACE)]
Every = Annotated[
    int, typer.Option(help="Measure every K steps (and the last).", rich_help_panel=TRACE)
]
TrainExamples = Annotated[
    int,
    typer.Option(
        help="Train on a fixed class-balanced subset of N training examples (0: all).",
        rich_help_panel=TRACE,
    ),
]
FlushSeconds = Annotated[
    float,
    typer.Option(
        help="Write the trace (and its checkpoint) at most this often, in seconds of its run.",
        rich_help_panel=TRACE,
    ),
]
