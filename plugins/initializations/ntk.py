"""The NTK parametrization: weights N(0, 1), each layer's input times sqrt(variance / fan_in).

A weight layer computes ``W (m x) + b`` with ``m = sqrt(hidden_variance / fan_in)`` for hidden
layers and ``sqrt(last_variance / fan_in)`` for the output layer, so at initialization the
network has the same distribution as ``he`` (defaults 2 and 1), while gradients scale as in
the NTK parametrization. The multiplier is a forward pre-hook on the layer (``layers.InputScale``):
the parameters stay plain tensors, and ``torch.func.functional_call`` runs the hooks.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from phasebench_builtins.initializations.layers import add_input_scale, draw_layers, fan_in


def ntk(
    model: nn.Module,
    generator: torch.Generator,
    *,
    hidden_variance: float,
    last_variance: float,
) -> nn.Module:
    """Draw every weight N(0, 1) and install the per-layer input multipliers."""
    layers = draw_layers(model, generator, lambda layer, last: 1.0, "ntk")
    for index, layer in enumerate(layers):
        variance = last_variance if index == len(layers) - 1 else hidden_variance
        add_input_scale(layer, math.sqrt(variance / fan_in(layer)))
    return model
