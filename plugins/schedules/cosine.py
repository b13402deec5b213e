"""Cosine decay after an optional linear warmup."""

from __future__ import annotations

import math
from collections.abc import Callable

from phasebench_builtins.schedules.warmup import ramp, warmup_length


def cosine(
    eta: float,
    lambda0: float,
    steps: int,
    *,
    warmup_steps: int,
    init_c: float,
    final_c: float | None,
    final_fraction: float,
) -> Callable[[int], float]:
    """A linear warmup over ``warmup_steps`` from init_c / lambda0, then eta_t = final +
    (eta - final) (1 + cos(pi (t - W) / (steps - W))) / 2, reaching ``final`` at the last step;
    ``final`` is final_c / lambda0, or final_fraction * eta when final_c is None."""
    length = warmup_length("cosine", warmup_steps, steps)
    warm = ramp(eta, init_c / lambda0, length, 1.0)
    final = final_fraction * eta if final_c is None else final_c / lambda0
    decay = steps - length

    def eta_at(t: int) -> float:
        if t <= length or decay <= 0:
            return warm(t)
        done = min(t - length, decay) / decay
        return float(final + (eta - final) * 0.5 * (1.0 + math.cos(math.pi * done)))

    return eta_at
