"""A trace's configuration: a probe configuration with the settings of a long run, the one
place the CLI (``phasebench trace``, ``sweep --trace``) and the Python API
(``phasebench.trace``) make it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from phasebench.config import ProbeConfig

#: The study parameters a trace does not take: the probe's grid of c and its search (a trace
#: runs the values of c given), the batched engine and the sharpness batch (a trace measures
#: on the fixed one). (It takes per_layer, smallest and critical at every measured step,
#: ``probe.trace_extras``, and the SLQ density at the density_steps with density_probes and
#: density_lanczos, ``probe.trace_density``.)
NOT_TRACED = (
    "x_min",
    "x_max",
    "x_step",
    "search",
    "bisect_tol",
    "sharp_eps",
    "engine",
    "sharpness_batch",
)

#: The steps and the measurement period a trace runs unless told.
DEFAULT_STEPS = 1000
DEFAULT_EVERY = 20


def traced(
    base: ProbeConfig, *, every: int, top_k: int, train_examples: int, steps: int | None = None
) -> ProbeConfig:
    """``base`` with a trace's settings. The fixed sharpness and loss batches are at most the
    training examples: with ``train_examples`` N they default to all N."""
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


def traces_of(
    configs: Iterable[ProbeConfig],
    cs: Sequence[float] | None,
    *,
    every: int,
    top_k: int,
    train_examples: int,
) -> list[ProbeConfig]:
    """A trace of every configuration at every c of ``cs`` (None or empty: c = 1), with the
    trace's settings (``traced``)."""
    return [
        traced(config, every=every, top_k=top_k, train_examples=train_examples).with_c(c)
        for config in configs
        for c in cs or (1.0,)
    ]
