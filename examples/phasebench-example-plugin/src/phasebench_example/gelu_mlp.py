"""A multilayer perceptron with GELU activations and biases."""

from __future__ import annotations

import math

from torch import nn

from phasebench.errors import UsageError


def build(input_shape: tuple[int, ...], num_outputs: int, *, depth: int, width: int):
    """``depth`` Linear layers: ``depth - 1`` hidden of ``width`` with GELU, then the output."""
    if depth < 1:
        raise UsageError(f"gelu-mlp: depth must be at least 1, got {depth}; pass --depth 1 or more")
    if width < 1:
        raise UsageError(f"gelu-mlp: width must be positive, got {width}; pass --width 1 or more")
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = math.prod(input_shape)
    for _ in range(depth - 1):
        layers += [nn.Linear(fan_in, width), nn.GELU()]
        fan_in = width
    layers.append(nn.Linear(fan_in, num_outputs))
    return nn.Sequential(*layers)
