"""The optimizer check: a ``torch.optim.Optimizer`` that lowers a convex quadratic and whose
first step scales with the learning rate."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from phasebench.testing.common import PASSED, _require


def _quadratic_step(
    make: Callable[..., Any], options: Mapping[str, Any], lr: float, steps: int, label: str
) -> tuple[list[float], float]:
    """Losses of f(x) = 0.5 sum a_i x_i^2 after each of ``steps`` steps, and |x_1 - x_0|."""
    import torch

    a = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    x = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64))
    start = x.detach().clone()
    optimizer = make([x], lr, **options)
    _require(
        isinstance(optimizer, torch.optim.Optimizer),
        label,
        f"make(params, lr) returned {type(optimizer).__name__}, not a torch.optim.Optimizer",
    )
    losses = [float(0.5 * (a * x.detach() ** 2).sum())]
    moved = 0.0
    for step in range(steps):
        optimizer.zero_grad()
        value = 0.5 * (a * x**2).sum()
        value.backward()
        optimizer.step()
        if step == 0:
            moved = float((x.detach() - start).norm())
        losses.append(float(0.5 * (a * x.detach() ** 2).sum()))
    return losses, moved


def check_optimizer(
    make: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "optimizer"
) -> str:
    """``make(params, lr, **options)`` gives a ``torch.optim.Optimizer`` that, on a convex
    quadratic with a small ``lr``, lowers the loss on its first step and keeps lowering it,
    and whose first step scales with ``lr`` (the probe sets lr = c / lambda0). An optimizer
    declared adaptive also has a positive preconditioner after a step and a threshold rule
    scaling as 1 / eta."""
    options = dict(options or {})
    losses, moved = _quadratic_step(make, options, 1e-2, 20, label)
    _require(
        losses[1] < losses[0],
        label,
        f"one step with lr=0.01 on 0.5 x^T diag(1,2,3,4) x did not lower it "
        f"({losses[0]:.6g} -> {losses[1]:.6g})",
    )
    _require(
        losses[-1] < losses[1] and all(math.isfinite(v) for v in losses),
        label,
        f"20 steps with lr=0.01 did not keep lowering the quadratic ({losses[1]:.6g} -> "
        f"{losses[-1]:.6g})",
    )
    _, moved_small = _quadratic_step(make, options, 1e-3, 1, label)
    _require(
        moved > 2 * moved_small,
        label,
        f"the first step moved {moved:.3g} with lr=0.01 and {moved_small:.3g} with lr=0.001: "
        "the step must scale with lr",
    )
    _check_adaptive(make, options, label)
    return PASSED


def _check_adaptive(make: Callable[..., Any], options: Mapping[str, Any], label: str) -> None:
    """An optimizer declared adaptive (``phasebench.adaptive``): after one step its
    preconditioner is one positive finite entry per parameter, and its threshold rule gives a
    positive (value, kind) that scales as 1 / eta."""
    from phasebench import adaptive

    declared = adaptive.traits(make)
    if declared is None:
        return
    import torch

    x = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64))
    optimizer = make([x], 1e-2, **options)
    (0.5 * (x**2).sum()).backward()
    optimizer.step()
    diagonal = torch.as_tensor(declared.preconditioner(optimizer)).reshape(-1)
    _require(
        diagonal.numel() == 4 and bool(torch.isfinite(diagonal).all() and (diagonal > 0).all()),
        label,
        f"after one step its preconditioner is {diagonal.tolist()}, not 4 positive finite entries "
        "(one per parameter)",
    )
    value, kind = declared.threshold(1e-2, **options)
    half, _ = declared.threshold(2e-2, **options)
    _require(
        value > 0 and math.isfinite(value) and isinstance(kind, str) and kind,
        label,
        f"its threshold rule gave ({value!r}, {kind!r}) at eta=0.01, not a positive number "
        "and a formula",
    )
    _require(
        math.isclose(half, value / 2, rel_tol=1e-9),
        label,
        f"its threshold is {value:.6g} at eta=0.01 but {half:.6g} at eta=0.02; it must scale "
        "as 1 / eta",
    )
