"""The layer convention every built-in initialization uses, and the drawing it shares.

``weight_layers(model)`` lists the ``nn.Linear`` / ``nn.ConvNd`` modules in ``model.modules()``
order; the last one is the output layer. ``draw_layers`` gives each weight a normal draw of the
variance a scheme picks, zeroes biases, resets normalization layers, refuses parameters it
does not know, and removes multipliers a previous ``ntk`` initialization installed.
Draws happen on the generator's device, in the parameter's dtype, layer by layer, so a seed
gives the same weights bit for bit in every process.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from phasebench.errors import UsageError

WEIGHT_LAYERS = (nn.Linear, nn.modules.conv._ConvNd)
NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)

#: ``variance(layer, is_last) -> float``: the variance of the layer's weights.
VarianceRule = Callable[[nn.Module, bool], float]


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """The weight layers in registration order (the last is the output layer)."""
    layers = [m for m in model.modules() if isinstance(m, WEIGHT_LAYERS)]
    if not layers:
        raise UsageError(
            f"{type(model).__name__} has no nn.Linear or nn.Conv layer to initialize; "
            "the built-in initializations need its weights in such layers"
        )
    return layers


def fan_in(layer: nn.Module) -> int:
    """Inputs times kernel size, or the layer's declared ``init_fan_in``."""
    declared = getattr(layer, "init_fan_in", None)
    return int(declared) if declared is not None else layer.weight[0].numel()


def fan_out(layer: nn.Module) -> int:
    """Outputs times kernel size."""
    weight = layer.weight
    return weight.shape[0] * (weight[0, 0].numel() if weight.dim() > 2 else 1)


def check_generator(generator: object) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise UsageError(
            f"an initialization needs a torch.Generator, got {type(generator).__name__}; "
            "pass torch.Generator().manual_seed(seed)"
        )
    return generator


def normal_(param: torch.Tensor, std: float, generator: torch.Generator) -> None:
    """Fill ``param`` with N(0, std^2) drawn from ``generator``; std 0 fills zeros (no draw)."""
    with torch.no_grad():
        if std == 0.0:
            param.zero_()
            return
        sample = torch.randn(
            param.shape, generator=generator, dtype=param.dtype, device=generator.device
        )
        param.copy_(sample.mul_(std))


def draw_layers(
    model: nn.Module, generator: torch.Generator, variance: VarianceRule, scheme: str
) -> list[nn.Module]:
    """Initialize every parameter of ``model`` by the convention; returns the weight layers."""
    check_generator(generator)
    layers = weight_layers(model)
    known: set[int] = set()
    for index, layer in enumerate(layers):
        remove_input_scales(layer)
        var = variance(layer, index == len(layers) - 1)
        if not (math.isfinite(var) and var >= 0):
            raise UsageError(f"initialization {scheme!r}: weight variance must be >= 0, got {var}")
        normal_(layer.weight, math.sqrt(var), generator)
        known.add(id(layer.weight))
        if layer.bias is not None:
            with torch.no_grad():
                layer.bias.zero_()
            known.add(id(layer.bias))
    for module in model.modules():
        if isinstance(module, NORM_LAYERS):
            with torch.no_grad():
                for name, value in (("weight", 1.0), ("bias", 0.0)):
                    param = getattr(module, name, None)
                    if isinstance(param, nn.Parameter):
                        param.fill_(value)
                        known.add(id(param))
    for name, param in model.named_parameters():
        if id(param) not in known:
            raise UsageError(
                f"initialization {scheme!r} cannot initialize parameter {name!r} of "
                f"{type(model).__name__}: only Linear, Conv and normalization layers are known"
            )
    return layers


class InputScale:
    """A forward pre-hook multiplying a layer's input by a constant (picklable)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __call__(self, module: nn.Module, args: tuple) -> tuple:
        return (args[0] * self.scale, *args[1:])

    def __repr__(self) -> str:
        return f"InputScale({self.scale})"


def add_input_scale(layer: nn.Module, scale: float) -> None:
    """Multiply the layer's input by ``scale`` in every forward pass (W (s x) + b)."""
    remove_input_scales(layer)
    layer.register_forward_pre_hook(InputScale(scale))


def remove_input_scales(layer: nn.Module) -> None:
    for key, hook in list(layer._forward_pre_hooks.items()):
        if isinstance(hook, InputScale):
            del layer._forward_pre_hooks[key]
