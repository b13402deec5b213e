"""Validation of optimizer arguments: every failure is a one-line UsageError."""

from __future__ import annotations

import math

from phasebench.errors import UsageError


def learning_rate(optimizer: str, lr: object) -> float:
    if (
        isinstance(lr, bool)
        or not isinstance(lr, (int, float))
        or not (math.isfinite(lr) and lr > 0)
    ):
        raise UsageError(f"optimizer {optimizer!r}: the learning rate must be > 0, got {lr!r}")
    return float(lr)


def unit_interval(optimizer: str, name: str, value: object) -> float:
    """A number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise UsageError(f"optimizer {optimizer!r}: {name} must be in [0, 1), got {value!r}")
    return float(value)
