"""The fixed data an operator is defined on: one or several (inputs, targets) batches.

Every batch is checked (non-empty, matching lengths, finite values) and moved to the
operator's device and dtype. The finite-values scan, a full pass over the data, runs once per
tensor: a tensor found finite is remembered (by identity and its in-place version counter, so
a tensor modified in place is scanned again), and the probe's fixed batches, rebuilt into an
operator after every step, are scanned only the first time. Batch b carries the weight
n_b / N, so the operator is exactly the Hessian of the mean loss over all N examples, whatever
the split.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from phasebench.errors import UsageError


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor
    targets: torch.Tensor
    weight: float  # n_b / N


#: id(tensor) -> (a weak reference to it, its ``_version`` when it was found finite)
_FINITE: dict[int, tuple[weakref.ref, int]] = {}


def _finite(x: torch.Tensor) -> bool:
    """Whether every value of ``x`` is finite; a tensor already found finite and not modified
    since is not scanned again."""
    if not x.is_floating_point():
        return True
    known = _FINITE.get(id(x))
    if known is not None and known[0]() is x and known[1] == x._version:
        return True
    if not bool(torch.isfinite(x).all()):
        return False
    key = id(x)
    try:
        _FINITE[key] = (weakref.ref(x, lambda _, key=key: _FINITE.pop(key, None)), x._version)
    except TypeError:  # a tensor subclass without weak references: scanned every time
        pass
    return True


def as_batches(
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | Sequence[torch.Tensor],
    dtype: torch.dtype,
    device: torch.device,
) -> list[Batch]:
    """Check and convert ``inputs``/``targets`` (tensors, or equal-length sequences of them)."""
    if isinstance(inputs, torch.Tensor) != isinstance(targets, torch.Tensor):
        raise UsageError(
            "inputs and targets must both be tensors or both be sequences of tensors (batches)"
        )
    if isinstance(inputs, torch.Tensor):
        pairs = [(inputs, targets)]
    else:
        inputs, targets = list(inputs), list(targets)
        if len(inputs) != len(targets):
            raise UsageError(
                f"{len(inputs)} input batches but {len(targets)} target batches; pass one "
                "targets tensor per inputs tensor"
            )
        if not inputs:
            raise UsageError("no batches given; pass at least one (inputs, targets) batch")
        pairs = list(zip(inputs, targets, strict=True))
    total = 0
    for index, (x, y) in enumerate(pairs):
        where = f"batch {index}" if len(pairs) > 1 else "the batch"
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise UsageError(f"{where}: inputs and targets must be torch tensors")
        if x.ndim == 0 or len(x) == 0:
            raise UsageError(f"{where} is empty; the Hessian needs at least one example")
        if y.ndim == 0 or len(y) != len(x):
            got = "a scalar" if y.ndim == 0 else str(len(y))
            raise UsageError(
                f"{where}: {len(x)} inputs but {got} targets; pass one target per example"
            )
        if not _finite(x):
            raise UsageError(f"{where}: the inputs contain NaN or infinite values; clean the data")
        if not _finite(y):
            raise UsageError(f"{where}: the targets contain NaN or infinite values; clean the data")
        total += len(x)
    batches = []
    for x, y in pairs:
        x = x.to(device=device, dtype=dtype if x.is_floating_point() else x.dtype)
        y = y.to(device=device, dtype=dtype if y.is_floating_point() else y.dtype)
        batches.append(Batch(x, y, len(x) / total))
    return batches
