"""A trace's configuration: a probe configuration with the settings of a long run, the one
place the CLI (``phasebench trace``, ``sweep --trace``) and the Python API
(``phasebench.trace``) make it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from phasebench.config import ProbeConfig

#: The study parameters a trace does not take: the probe's grid of c and its search, the SLQ
#: density at chosen steps and the batched engine, which the trace does not measure yet. (It
#: takes per_layer, smallest and critical: ``probe.trace_extras``.)
NOT_TRACED = (
    "x_min",
    "x_max",
    "x_step",
    "search",
    "bisect_tol",
    "sharp_eps",
    "density_steps",
    "density_probes",
    "density_lanczos",
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
