"""The schedule check: ``make(eta, lambda0, steps, **options)`` gives ``eta_at(t)``, finite,
non-negative and the same on every call for t = 1..steps, and proportional to eta when c and
init_c are scaled together (eta and every learning rate the options name are both in units of
1 / lambda0)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from phasebench.testing.common import PASSED, _require

STEPS = 50
ETA, LAMBDA0 = 0.4, 5.0


def _rates(
    make: Callable[..., Any], options: Mapping[str, Any], eta: float, lambda0: float, label: str
) -> list[float]:
    eta_at = make(eta, lambda0, STEPS, **options)
    _require(
        callable(eta_at), label, f"make(eta, lambda0, steps) returned {eta_at!r}, not eta_at(t)"
    )
    rates = []
    for t in range(1, STEPS + 1):
        value = eta_at(t)
        _require(
            isinstance(value, (int, float)) and not isinstance(value, bool),
            label,
            f"eta_at({t}) returned {value!r}, not a number",
        )
        _require(
            math.isfinite(value) and value >= 0,
            label,
            f"eta_at({t}) = {value!r}: a learning rate must be finite and >= 0",
        )
        rates.append(float(value))
    again = [float(eta_at(t)) for t in range(1, STEPS + 1)]
    _require(rates == again, label, "eta_at(t) changed between two calls: it must be deterministic")
    return rates


def check_schedule(
    make: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "schedule"
) -> str:
    """``make(eta, lambda0, steps, **options)`` returns ``eta_at``, whose values for t = 1..steps
    are finite, >= 0 and deterministic, and which takes the target: the same schedule with
    lambda0 halved (every c / lambda0 doubled) gives twice the learning rates."""
    options = dict(options or {})
    if options.get("warmup_steps") is not None:
        options["warmup_steps"] = min(int(options["warmup_steps"]), STEPS)
    rates = _rates(make, options, ETA, LAMBDA0, label)
    doubled = _rates(make, options, 2 * ETA, LAMBDA0 / 2, label)
    _require(
        all(
            math.isclose(b, 2 * a, rel_tol=1e-9, abs_tol=1e-15)
            for a, b in zip(rates, doubled, strict=True)
        ),
        label,
        "eta_at(t) did not double with eta = c / lambda0 when lambda0 was halved: a schedule "
        "gives learning rates in units of 1 / lambda0",
    )
    return PASSED
