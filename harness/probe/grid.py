"""The learning-rate constants to try: an explicit list, or c = 2^x on a grid of x (the paper:
x = 0, 0.1, 0.2, ... until the first divergence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from phasebench.errors import UsageError


@dataclass(frozen=True)
class Grid:
    """Either explicit ``values`` of c, or x from ``x_min`` to ``x_max`` in steps of ``x_step``."""

    values: tuple[float, ...] = ()
    x_min: float = 0.0
    x_max: float = 6.0
    x_step: float = 0.1

    def __post_init__(self) -> None:
        if self.values:
            bad = [v for v in self.values if not v > 0]
            if bad:
                raise UsageError(f"c must be positive, got {bad[0]}; pass --c values above 0")
            return
        if not self.x_step > 0:
            raise UsageError(f"--x-step must be positive, got {self.x_step}")
        if self.x_max < self.x_min:
            raise UsageError(f"--x-max {self.x_max} is below --x-min {self.x_min}; swap them")

    def cs(self) -> list[float]:
        """The c values in increasing order."""
        if self.values:
            return sorted(set(self.values))
        count = int(round((self.x_max - self.x_min) / self.x_step)) + 1
        return [2.0 ** round(self.x_min + i * self.x_step, 10) for i in range(count)]

    def to_dict(self) -> dict:
        return {
            "values": list(self.values),
            "x_min": self.x_min,
            "x_max": self.x_max,
            "x_step": self.x_step,
        }


def parse_seeds(text: str, what: str = "--seeds") -> tuple[int, ...]:
    """``"3"`` means seeds 0, 1, 2; ``"0,5,7"`` names them."""
    text = text.strip()
    try:
        if "," not in text:
            count = int(text)
            if count < 1:
                raise UsageError(f"{what} {count}: need at least one seed; pass {what} 1 or more")
            return tuple(range(count))
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"{what} {text!r} is not a count or a comma-separated list of integers; "
            f"e.g. {what} 3 or {what} 0,5,7"
        ) from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise UsageError(f"{what} {text!r}: seeds must be distinct non-negative integers")
    return seeds


def parse_floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a comma-separated list of numbers") from None


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a comma-separated list of integers") from None
    if not values:
        raise UsageError(f"{what} is empty; give at least one value, e.g. {what} 2,4")
    return values


def as_list(values: Sequence[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)
