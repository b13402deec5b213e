"""The constant schedule: every step at the target eta."""

from __future__ import annotations

from collections.abc import Callable


def constant(eta: float, lambda0: float, steps: int) -> Callable[[int], float]:
    """eta_t = eta for t = 1..steps."""
    rate = float(eta)
    return lambda t: rate
