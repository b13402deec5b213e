"""Initializations that multiply the network's output: ``scaled-output`` and ``mup``.

Both draw the weights as ``he`` does and return ``ScaledOutput(model, scale)``, whose forward is
``scale * model(x)``. The parameters stay plain ``nn.Parameter`` (named ``model.<name>``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from phasebench_builtins.initializations.layers import draw_layers
from phasebench_builtins.initializations.variance import he_variance


class ScaledOutput(nn.Module):
    """``scale * model(x)``; ``scale`` is a constant, not a parameter."""

    def __init__(self, model: nn.Module, scale: float) -> None:
        super().__init__()
        self.model = model
        self.scale = float(scale)

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.model(*args, **kwargs) * self.scale

    def extra_repr(self) -> str:
        return f"scale={self.scale!r}"


def scaled_output(model: nn.Module, generator: torch.Generator, *, alpha: float) -> ScaledOutput:
    """He init, then the output multiplied by ``alpha``."""
    draw_layers(model, generator, he_variance, "scaled-output")
    return ScaledOutput(model, alpha)


def mup(model: nn.Module, generator: torch.Generator, *, exponent: float) -> ScaledOutput:
    """He init, then the output divided by ``w ** exponent``, w = the last layer's input width.

    The paper's muP variant divides the output by w (``exponent=1``); the authors' code keeps the
    exponent as a parameter (``out_exp``). w counts input features/channels, not kernel size.
    """
    layers = draw_layers(model, generator, he_variance, "mup")
    width = layers[-1].weight.shape[1]
    return ScaledOutput(model, float(width) ** -exponent)
