"""Critical sharpness (Kalra et al. 2026, arXiv 2601.16979): lambda_c = 2 / eta_c, eta_c the
smallest step along the update direction d at which the next-step loss rises above the current
one, found by a line search of a few forward passes and no Hessian-vector product.

With f(eta) = L(theta + eta d) - L(theta), f(0) = 0 and f'(0) = g . d < 0 for a descent
direction. On a quadratic L = 1/2 theta^T A theta, f(eta) = eta g.d + eta^2/2 d^T A d, so
eta_c = -2 g.d / d^T A d and lambda_c = d^T A d / (-g . d): for SGD's d = -g the Rayleigh
quotient g^T A g / g^T g of the gradient, which is lambda along an eigenvector.

The search: evaluate f at a guess; step to the root of the quadratic through f(0) = 0, f'(0)
and that point (once: while the loss has not risen, later steps grow 2x to 4x, since a loss
bounded below is far from its quadratic model); once lo < eta_c <= hi is bracketed (f(lo) <= 0
< f(hi)), take false-position steps between the ends (the Illinois rule: an end kept twice
has its value halved), bisecting geometrically while the bracket is wider than 4x. It stops
when the bracket is narrower than ``rtol`` (relative) or the last point is within ``rtol`` of
the root by the slope there (|f| <= rtol eta |f'|, |f'| taken as the smaller of -g.d, exact on
a quadratic, and the bracket's secant). On a quadratic that is 3 forward
passes (the current loss with its gradient, the guess, the root).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from phasebench.errors import UsageError

#: Forward passes a search may spend (the current loss, with its gradient, included).
MAX_PASSES = 10
#: Relative accuracy of eta_c at which the search stops.
RTOL = 1e-2
#: How far the step grows per pass while the loss has not yet risen.
GROWTH = 4.0
#: A bracket wider than this ratio is bisected (geometrically) rather than interpolated.
WIDE = 4.0


class CriticalSharpness(NamedTuple):
    """``value`` = 2 / eta_c (nan when the search found no rise, or d is not a descent
    direction), the ``forward_passes`` spent, and whether the search ``converged``."""

    value: float
    forward_passes: int
    converged: bool


def line_search(
    rise: Callable[[float], float],
    slope: float,
    guess: float,
    *,
    max_evaluations: int = MAX_PASSES - 1,
    rtol: float = RTOL,
) -> tuple[float, int, bool]:
    """(eta_c, evaluations, converged) for ``rise(eta)`` = f(eta) with f'(0) = ``slope`` < 0:
    the smallest eta > 0 with f(eta) > 0 (nan if none was found)."""
    lo, hi, eta = 0.0, math.inf, float(guess)
    f_lo, f_hi = 0.0, math.inf  # as the Illinois rule scales them
    kept = ""  # the end of the bracket the last step kept
    for count in range(1, max_evaluations + 1):
        value = rise(eta)
        rose = not math.isfinite(value) or value > 0
        if rose and eta < hi:
            hi, f_hi = eta, value if math.isfinite(value) else math.inf
            if kept == "lo" and lo > 0:
                f_lo /= 2.0  # Illinois: an end kept twice in a row has its value halved
            kept = "lo"
        elif not rose and eta > lo:
            lo, f_lo = eta, value
            if kept == "hi" and math.isfinite(f_hi):
                f_hi /= 2.0
            kept = "hi"
        local = abs(slope)  # f's slope at the root: -slope on a quadratic; at most the secant's
        if 0 < lo and hi < math.inf and math.isfinite(f_hi) and f_hi > f_lo:
            local = min(local, (f_hi - f_lo) / (hi - lo))
        if math.isfinite(value) and abs(value) <= rtol * eta * local:
            return eta - value / local, count, True
        if hi < math.inf and hi - lo <= rtol * hi:
            return 0.5 * (lo + hi), count, True
        if hi == math.inf:  # below the rise: trust the fit once, then grow 2x to GROWTH x
            candidate = _fitted_root(slope, eta, value)
            if count == 1 and eta < candidate < math.inf:
                eta = candidate
            else:
                eta = min(max(candidate, 2.0 * eta), GROWTH * eta)
            continue
        candidate = math.nan
        if lo == 0:
            candidate = max(_fitted_root(slope, hi, f_hi), hi / GROWTH**2)
        elif hi <= WIDE * lo and math.isfinite(f_hi):  # false position (Illinois)
            candidate = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if lo < candidate < hi:
            eta = candidate
        else:  # a wide bracket, or no usable fit: bisect it geometrically
            eta = math.sqrt(lo * hi) if lo > 0 else hi / GROWTH
    if hi < math.inf:
        return 0.5 * (lo + hi), max_evaluations, False
    return math.nan, max_evaluations, False


def _fitted_root(slope: float, eta: float, value: float) -> float:
    """The positive root of the model f(x) = slope x + b x^2 through f(0) = 0 with f'(0) =
    slope and (eta, value); inf when the model never rises, nan when it cannot be fitted."""
    if not math.isfinite(value):
        return math.nan
    curvature = (value - slope * eta) / (eta * eta)
    return -slope / curvature if curvature > 0 else math.inf


def critical_sharpness(
    model: torch.nn.Module,
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | Sequence[torch.Tensor],
    direction: torch.Tensor | None = None,
    *,
    eta: float | None = None,
    max_passes: int = MAX_PASSES,
    rtol: float = RTOL,
    dtype: str | torch.dtype | None = None,
    mode: str = "eval",
) -> CriticalSharpness:
    """lambda_c of ``loss(model(inputs), targets)`` along ``direction`` (a flat vector over
    the trainable parameters, the optimizer's update per unit learning rate; default the
    negative gradient, SGD's update), from the initial step ``eta`` (default 1 / |d|; the probe
    passes 2 / the last sharpness). ``forward_passes`` counts every loss evaluation on the
    batch, the first of which (the current loss) also gives the gradient. The model is not
    modified. Batches and ``mode`` as in ``phasebench.sharpness``."""
    from phasebench.hessian.api import resolve_loss
    from phasebench.hessian.operator import HessianOperator

    if not isinstance(max_passes, int) or max_passes < 2:
        raise UsageError(f"max_passes must be an integer of at least 2, got {max_passes!r}")
    operator = HessianOperator(model, resolve_loss(loss), inputs, targets, dtype=dtype, mode=mode)
    fn = operator.fn
    leaves = [p.detach().clone().requires_grad_(True) for p in operator.params]
    current = fn.total(leaves)
    gradient = torch.cat([g.reshape(-1) for g in torch.autograd.grad(current, leaves)])
    start = float(current.detach())
    if direction is None:
        d = -gradient.detach()
    else:
        d = direction.detach().reshape(-1).to(device=operator.device, dtype=operator.dtype)
        if d.numel() != operator.size or not bool(torch.isfinite(d).all()):
            raise UsageError(
                f"the direction must be a finite vector of {operator.size} numbers (one per "
                f"trainable parameter), got {direction.numel()}"
            )
    slope = float(gradient.double() @ d.double())
    norm = float(d.double().norm())
    if not (slope < 0 and math.isfinite(start)):
        return CriticalSharpness(math.nan, 1, False)  # no step along d lowers the loss
    pieces = list(torch.split(d, operator.numels))

    @torch.no_grad()
    def rise(step: float) -> float:
        moved = [p + step * q.view_as(p) for p, q in zip(operator.params, pieces, strict=True)]
        return float(fn.total(moved)) - start

    guess = float(eta) if eta is not None and eta > 0 and math.isfinite(eta) else 1.0 / norm
    found, evaluations, converged = line_search(
        rise, slope, guess, max_evaluations=max_passes - 1, rtol=rtol
    )
    value = 2.0 / found if found > 0 else math.nan
    return CriticalSharpness(value, 1 + evaluations, converged and math.isfinite(value))
