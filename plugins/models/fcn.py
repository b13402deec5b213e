"""The paper's fully connected network: ``depth`` Dense layers, biases off by default.

``depth - 1`` hidden layers of ``width`` units with an activation after each, then the output
layer (no activation). Inputs of any shape are flattened, as in the authors' code.

``norm`` (not in the paper; for the question whether its phases survive normalization):
``"none"`` (default), ``"layer"`` (``LayerNorm(width)``, with its affine parameters at 1 and 0)
or ``"batch"`` (``BatchNorm1d`` on batch statistics only, no running averages, so the model
stays a pure function of its parameters and batch) between each hidden Linear layer and its
activation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from phasebench_builtins.models.options import example_shape, positive_int

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "linear": nn.Identity}
NORMS = ("none", "layer", "batch")


def make_norm(norm: str, width: int) -> list[nn.Module]:
    if norm == "layer":
        return [nn.LayerNorm(width)]
    if norm == "batch":
        return [nn.BatchNorm1d(width, track_running_stats=False)]
    return []


def build(
    input_shape: Sequence[int],
    num_outputs: int,
    *,
    depth: int,
    width: int,
    activation: str,
    bias: bool,
    norm: str = "none",
) -> nn.Sequential:
    """``Flatten, Linear, act, ..., Linear``: ``depth`` Linear layers, the last one the output."""
    shape = example_shape("fcn", input_shape)
    num_outputs = positive_int("fcn", "num_outputs", num_outputs)
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = math.prod(shape)
    for _ in range(depth - 1):
        layers += [
            nn.Linear(fan_in, width, bias=bias),
            *make_norm(norm, width),
            ACTIVATIONS[activation](),
        ]
        fan_in = width
    layers.append(nn.Linear(fan_in, num_outputs, bias=bias))
    return nn.Sequential(*layers)
