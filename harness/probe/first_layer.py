"""A model's first operation, when it is linear in its own parameters (the barrier's shortcut).

Along the segment theta(tau) = (1 - tau) theta_0 + tau theta_T, a first layer whose output is
linear in its parameters (``nn.Linear`` and ``nn.ConvNd``, bias included: x W + b is linear in
(W, b)) and whose input does not depend on any parameter gives exactly
``first(x; theta(tau)) = (1 - tau) first(x; theta_0) + tau first(x; theta_T)``. The barrier
computes those two outputs once and interpolates them, instead of running the first layer,
usually the largest GEMM of the model (784 x 128 of the default fcn's 4), at every tau.

``linear_first(model)`` names that layer:

- declared: the model (the ``nn.Module`` a model builder returns) has a string attribute
  ``phasebench_linear_first``, the dotted name of a submodule (``"stem.0"``) that is its
  first operation on the input, called once per forward, its output linear in its own
  parameters and its input independent of every parameter (docs/plugins.md,
  ``register_models``); ``""`` declares that there is none;
- detected: an ``nn.Sequential`` (nested ones too) whose leading modules are parameter-free
  reshapes (``Flatten``, ``Unflatten``, ``Identity``) followed by an ``nn.Linear`` or
  ``nn.Conv1d/2d/3d`` of exactly that type (a subclass may compute anything);
- otherwise None, and the barrier takes the plain path.
"""

from __future__ import annotations

import torch
from torch import nn

ATTRIBUTE = "phasebench_linear_first"
#: Layers whose output is linear in their parameters, matched by exact type.
LINEAR_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
#: Parameter-free modules that may come before it (they only reshape the input).
RESHAPES = (nn.Flatten, nn.Unflatten, nn.Identity)


def linear_first(model: nn.Module) -> nn.Module | None:
    """The model's first layer when it is declared or detected as linear in its parameters."""
    declared = getattr(model, ATTRIBUTE, None)
    if isinstance(declared, str):
        if not declared:
            return None
        try:
            return model.get_submodule(declared)
        except AttributeError:
            return None
    return _detect(model)


def _detect(module: nn.Module) -> nn.Module | None:
    if type(module) in LINEAR_LAYERS:
        return module
    if type(module) is not nn.Sequential:
        return None
    for child in module:
        if type(child) in RESHAPES:
            continue
        return _detect(child)
    return None


def parameters_of(layer: nn.Module) -> set[int]:
    """The ids of a layer's parameters (to find their slices in the flat vector)."""
    return {id(p) for p in layer.parameters()}


def output_bytes(layer_input: torch.Tensor, layer: nn.Module) -> int:
    """The size of the layer's output on this input, from a one-example forward pass."""
    with torch.no_grad():
        one = layer(layer_input[:1])
    return one.numel() * one.element_size() * len(layer_input)
