"""Initializations that differ only in the variance of each layer's weights."""

from __future__ import annotations

import torch
from torch import nn

from phasebench_builtins.initializations.layers import draw_layers, fan_in, fan_out


def he_variance(layer: nn.Module, is_last: bool) -> float:
    """The paper's criticality init: hidden 2/fan_in, last layer 1/fan_in."""
    return (1.0 if is_last else 2.0) / fan_in(layer)


def he(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Hidden weights N(0, 2/fan_in), last layer N(0, 1/fan_in) (standard parametrization)."""
    draw_layers(model, generator, he_variance, "he")
    return model


def lecun(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Every layer N(0, 1/fan_in)."""
    draw_layers(model, generator, lambda layer, last: 1.0 / fan_in(layer), "lecun")
    return model


def xavier(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Every layer N(0, 2/(fan_in + fan_out)) (Glorot normal)."""
    draw_layers(
        model, generator, lambda layer, last: 2.0 / (fan_in(layer) + fan_out(layer)), "xavier"
    )
    return model


def zero_last(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """He hidden layers, the last layer all zeros, so the output is 0 at initialization."""
    draw_layers(
        model,
        generator,
        lambda layer, last: 0.0 if last else he_variance(layer, False),
        "zero-last",
    )
    return model
