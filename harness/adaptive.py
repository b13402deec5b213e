"""What an adaptive optimizer declares so that its preconditioned sharpness can be measured.

An optimizer component (``register_optimizers``) that preconditions its steps decorates its
factory ``make(params, lr, **options)`` with ``@adaptive(preconditioner=..., threshold=...)``:

- ``preconditioner(optimizer) -> torch.Tensor``: the diagonal of P, flat, one entry per
  parameter in the optimizer's order (``param_groups``, then their ``params``), positive, as
  it will precondition the NEXT step (Adam: (1 - beta1^(t+1)) (sqrt(v_t / (1 - beta2^t)) + eps)).
  It may raise ``phasebench.errors.UsageError`` where P is not defined yet (before a step).
- ``threshold(eta, **options) -> (value, kind)``: the stability threshold of
  lambda_max(P^-1 H) at learning rate eta for the optimizer's options, and its formula (Adam:
  (2 + 2 beta1) / (eta (1 - beta1)), 38 / eta at beta1 = 0.9). The rule has the shape of the
  trace's ``phasebench.stability.stability_threshold`` rules, so the same function declares
  both.

The decorated factory tags every optimizer it makes (``traits(optimizer)`` reads the tag), so
``phasebench.hessian.curvature.build_operator("preconditioned", ..., optimizer=...)`` finds P
whoever made the optimizer. No torch import here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from phasebench.errors import UsageError

#: The attribute a decorated factory sets on every optimizer it makes (and on itself).
ATTRIBUTE = "phasebench_adaptive"


@dataclass(frozen=True)
class Adaptive:
    """An adaptive optimizer's declaration (see the module's docstring)."""

    preconditioner: Callable[[Any], Any]
    threshold: Callable[..., tuple[float, str]]


def adaptive(
    *,
    preconditioner: Callable[[Any], Any],
    threshold: Callable[..., tuple[float, str]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an optimizer factory adaptive; every optimizer it returns carries the tag."""
    declared = Adaptive(preconditioner, threshold)

    def mark(make: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(make)
        def tagged(*args: Any, **kwargs: Any) -> Any:
            optimizer = make(*args, **kwargs)
            setattr(optimizer, ATTRIBUTE, declared)
            return optimizer

        setattr(tagged, ATTRIBUTE, declared)
        return tagged

    return mark


def traits(optimizer_or_factory: Any) -> Adaptive | None:
    """The declaration of an optimizer (or of its factory); None for a non-adaptive one."""
    declared = getattr(optimizer_or_factory, ATTRIBUTE, None)
    return declared if isinstance(declared, Adaptive) else None


def require(optimizer: Any) -> Adaptive:
    """The declaration, or a one-line UsageError saying how to declare one."""
    declared = traits(optimizer)
    if declared is None:
        raise UsageError(
            f"the optimizer ({type(optimizer).__name__}) declares no preconditioner, so its "
            "preconditioned sharpness is undefined; use an adaptive optimizer (adam) or declare "
            "one with phasebench.adaptive.adaptive(preconditioner=..., threshold=...)"
        )
    return declared
