"""Parameter blocks: the diagonal block of a curvature matrix for some of the parameters.

``parameter_blocks(model)`` lists the model's layers: one block per module that owns trainable
parameters directly (a Linear's weight and bias together), named by the module's name
(``"(root)"`` for the model itself), in ``named_parameters`` order. ``block_names(model, block)``
resolves what a caller asks for: one of those layer names, a parameter's name, or a list of
parameter names.

``trainable_only(model, names)`` makes only those parameters require gradients while an
operator is built (it copies them), then restores the flags: the operator of the block is then
the diagonal block A[names, names], and its products differentiate only those parameters,
which makes each one cheaper than a product of the whole matrix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from phasebench.errors import UsageError

ROOT = "(root)"


def parameter_blocks(model: torch.nn.Module) -> list[tuple[str, list[str]]]:
    """(layer name, its trainable parameters' full names), in parameter order."""
    owner = {}
    for module_name, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            if p.requires_grad:
                full = f"{module_name}.{name}" if module_name else name
                owner[full] = module_name or ROOT
    blocks: dict[str, list[str]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            blocks.setdefault(owner[name], []).append(name)
    return list(blocks.items())


def block_names(model: torch.nn.Module, block: str | Sequence[str]) -> list[str]:
    """The parameter names of ``block``: a layer name, a parameter name, or a list of names."""
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    layers = dict(parameter_blocks(model))
    if isinstance(block, str):
        if block in layers:
            return list(layers[block])
        if block in trainable:
            return [block]
        known = ", ".join(list(layers) + [n for n in trainable if n not in layers])
        raise UsageError(f"unknown parameter block {block!r}; use one of: {known}")
    names = list(block)
    unknown = [n for n in names if n not in trainable]
    if unknown or not names:
        raise UsageError(
            f"unknown parameters {unknown or names!r} in the block; the model's trainable "
            f"parameters are: {', '.join(trainable)}"
        )
    return [n for n in trainable if n in set(names)]  # in the model's order


@contextlib.contextmanager
def trainable_only(model: torch.nn.Module, names: Sequence[str]) -> Iterator[None]:
    """Only ``names`` require gradients inside the block; the flags are restored after."""
    keep = set(names)
    flags = [(p, p.requires_grad) for _, p in model.named_parameters()]
    try:
        for name, p in model.named_parameters():
            p.requires_grad_(p.requires_grad and name in keep)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
