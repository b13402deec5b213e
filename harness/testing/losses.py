"""The loss check: targets encoded one row per label; a finite, differentiable 0-dim loss
that is the mean over the batch, in float32 and float64."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from phasebench.testing.common import PASSED, _require


def check_loss(
    make: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "loss"
) -> str:
    """``make(**options)`` gives ``loss`` with ``loss.encode_targets(labels, num_classes)``
    (one row per label) and ``loss(outputs, targets)``: a finite 0-dim tensor, the MEAN over
    the batch (a batch repeated twice has the same loss), differentiable in ``outputs``, in
    float32 and float64."""
    import torch

    loss = make(**dict(options or {}))
    _require(callable(loss), label, f"make() returned {type(loss).__name__}, not callable")
    _require(
        callable(getattr(loss, "encode_targets", None)),
        label,
        "the loss has no encode_targets(labels, num_classes) method",
    )
    gen = torch.Generator().manual_seed(0)
    classes, n = 4, 6
    labels = torch.randint(0, classes, (n,), generator=gen, dtype=torch.int64)
    targets = loss.encode_targets(labels, classes)
    _require(
        isinstance(targets, torch.Tensor) and len(targets) == n,
        label,
        f"encode_targets of {n} labels gave {type(targets).__name__} "
        f"of shape {tuple(getattr(targets, 'shape', ()))}; expected one row per label",
    )
    for dtype in (torch.float32, torch.float64):
        where = f"{label} ({dtype})"
        outputs = torch.randn(n, classes, generator=gen, dtype=dtype).requires_grad_(True)
        typed = targets.to(dtype) if targets.is_floating_point() else targets
        value = loss(outputs, typed)
        _require(
            isinstance(value, torch.Tensor) and value.dim() == 0,
            where,
            f"loss(outputs, targets) gave {type(value).__name__} of shape "
            f"{tuple(getattr(value, 'shape', ()))}; expected a 0-dim tensor",
        )
        _require(bool(torch.isfinite(value)), where, f"the loss is not finite ({value})")
        (grad,) = torch.autograd.grad(value, outputs)
        _require(bool(torch.isfinite(grad).all()), where, "its gradient is not finite")
        _require(bool(grad.abs().sum() > 0), where, "its gradient in the outputs is zero")
        doubled = loss(torch.cat([outputs, outputs]), torch.cat([typed, typed]))
        _require(
            math.isclose(doubled.item(), value.item(), rel_tol=1e-5, abs_tol=1e-7),
            where,
            f"a batch repeated twice gives {doubled.item():.6g}, not {value.item():.6g}: the "
            "loss must be the mean over the batch, not the sum",
        )
    return PASSED
