"""What resuming a trace needs, as bytes for the results file: the model's state, the
optimizer's, the data order's position, the random generators' states and the estimator's warm
start, and the warm starts and generators of the trace's opt-in measurements and densities
(``extras``; absent from a checkpoint written before them). ``torch.save`` of tensors and plain
values, read back with ``weights_only=True``."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import torch

from phasebench.probe.problem import BatchOrder


@dataclass
class TrainingState:
    """A trace between two steps: after ``step`` updates, before the next batch is drawn."""

    step: int
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    order: BatchOrder
    estimator_generator: torch.Generator
    warm: torch.Tensor | None  # the last measurement's eigenvectors (k, n)
    torch_rng: torch.Tensor  # the global generator (dropout masks) before the next step
    #: ``trace_extras.TraceExtras.state()`` ({} when the trace makes none; None when restored
    #: from a checkpoint that predates them), with ``trace_density.TraceDensity.state()`` under
    #: ``trace_density.STATE_KEY`` when the trace takes densities
    extras: dict[str, Any] | None = field(default_factory=dict)


def dumps(state: TrainingState) -> bytes:
    buffer = io.BytesIO()
    torch.save(
        {
            "step": state.step,
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "order": state.order.state(),
            "estimator_generator": state.estimator_generator.get_state(),
            "warm": state.warm,
            "torch_rng": state.torch_rng,
            "extras": state.extras,
        },
        buffer,
    )
    return buffer.getvalue()


def loads(blob: bytes) -> dict[str, Any]:
    return torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")


def restore(blob: bytes, state: TrainingState) -> TrainingState:
    """``state`` (a fresh model, optimizer, order and generator) brought to the stored one."""
    stored = loads(blob)
    state.model.load_state_dict(stored["model"])
    state.optimizer.load_state_dict(stored["optimizer"])
    state.order.restore(stored["order"])
    state.estimator_generator.set_state(stored["estimator_generator"])
    device = next(state.model.parameters()).device
    warm = stored["warm"]
    state.warm = None if warm is None else warm.to(device)
    state.torch_rng = stored["torch_rng"]
    state.step = int(stored["step"])
    state.extras = stored.get("extras")
    return state
