"""Warmup from init_c / lambda0 to the target eta (Kalra & Barkeshli 2024): linear, or
polynomial in the fraction of the warmup done."""

from __future__ import annotations

from collections.abc import Callable

from phasebench.errors import UsageError


def warmup_length(name: str, warmup_steps: int | None, steps: int) -> int:
    """The warmup's length in steps: ``warmup_steps`` (None: the whole run), which must fit in
    the run."""
    length = steps if warmup_steps is None else int(warmup_steps)
    if length > steps:
        raise UsageError(
            f"schedule {name!r}: warmup_steps {length} is longer than the run ({steps} steps); "
            f"pass warmup_steps of at most {steps}, or more steps"
        )
    return length


def ramp(eta: float, start: float, length: int, power: float) -> Callable[[int], float]:
    """From ``start`` at t = 0 to ``eta`` at t = ``length`` as (t / length)^power, then eta."""

    def eta_at(t: int) -> float:
        if length <= 0 or t >= length:
            return float(eta)
        return float(start + (eta - start) * (max(t, 0) / length) ** power)

    return eta_at


def linear(
    eta: float, lambda0: float, steps: int, *, warmup_steps: int | None, init_c: float
) -> Callable[[int], float]:
    """eta_t = eta_0 + (eta - eta_0) min(t, W) / W with eta_0 = init_c / lambda0."""
    length = warmup_length("linear", warmup_steps, steps)
    return ramp(eta, init_c / lambda0, length, 1.0)


def polynomial(
    eta: float,
    lambda0: float,
    steps: int,
    *,
    warmup_steps: int | None,
    init_c: float,
    power: float,
) -> Callable[[int], float]:
    """eta_t = eta_0 + (eta - eta_0) (min(t, W) / W)^power with eta_0 = init_c / lambda0."""
    length = warmup_length("polynomial", warmup_steps, steps)
    return ramp(eta, init_c / lambda0, length, power)
