"""The options of a trace, declared once: ``phasebench trace`` and ``phasebench sweep --trace``
take them (the rest are the probe's, ``phasebench.cli.probe_options``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from phasebench.config import ProbeConfig

TRACE = "trace"
#: The measurement period and steps a trace runs unless told.
DEFAULT_STEPS = 1000
DEFAULT_EVERY = 20

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


def traced(
    base: ProbeConfig, *, every: int, top_k: int, train_examples: int, steps: int | None = None
) -> ProbeConfig:
    """``base`` with a trace's settings. The fixed sharpness and loss batches are at most the
    training examples: with ``--train-examples N`` they default to all N."""
    config = replace(base, every=every, top_k=top_k, train_examples=train_examples)
    if steps is not None:
        config = replace(config, steps=steps)
    if train_examples > 0:
        config = replace(
            config,
            sharpness_examples=min(config.sharpness_examples, train_examples),
            loss_examples=min(config.loss_examples, train_examples),
        )
    return config
