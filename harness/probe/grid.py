"""The learning-rate constants to try: an explicit list, or c = 2^x on a grid of x (the paper:
x = 0, 0.1, 0.2, ... until the first divergence), and how a scan searches them (``Search``;
the scan itself is ``phasebench.probe.scan``). Never imports torch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from phasebench.errors import ParameterError

#: The largest c a probe trains at (x = log2 c at most ``MAX_X``): far above every critical
#: constant (c_max is below 2^4 in every setting of the paper), and eta = c / lambda0 stays a
#: number that float32 arithmetic can step with.
MAX_X = 20.0
MAX_C = 2.0**MAX_X
#: The most values of c one scan may hold: the paper's grid has 61; a longer one is a typo.
MAX_GRID = 10_000


@dataclass(frozen=True)
class Grid:
    """Either explicit ``values`` of c, or x from ``x_min`` to ``x_max`` in steps of ``x_step``."""

    values: tuple[float, ...] = ()
    x_min: float = 0.0
    x_max: float = 6.0
    x_step: float = 0.1

    def __post_init__(self) -> None:
        if self.values:
            for v in self.values:
                if not 0 < v <= MAX_C:  # nan fails too
                    raise ParameterError(
                        f"c must be positive and at most 2^{MAX_X:g} = {MAX_C:g}, got {v}; "
                        "pass values of c in that range",
                        "c",
                    )
            return
        for name in ("x_min", "x_max", "x_step"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ParameterError(f"{name} must be a finite number, got {value}", name)
        if not self.x_step > 0:
            raise ParameterError(f"x_step must be positive, got {self.x_step}", "x_step")
        if self.x_max < self.x_min:
            raise ParameterError(
                f"x_max {self.x_max} is below x_min {self.x_min}; swap them", "x_max", "x_min"
            )
        if self.x_max > MAX_X:
            raise ParameterError(
                f"x_max {self.x_max} asks for c = 2^{self.x_max:g}; the largest c a probe "
                f"trains at is 2^{MAX_X:g}, pass x_max {MAX_X:g} or less",
                "x_max",
            )
        count = self.count()
        if count > MAX_GRID:
            raise ParameterError(
                f"x_step {self.x_step:g} from x_min {self.x_min:g} to x_max {self.x_max:g} "
                f"gives {count} values of c, more than {MAX_GRID}; pass a larger x_step",
                "x_step",
                "x_min",
                "x_max",
            )

    def count(self) -> int:
        """How many values of c the grid holds."""
        if self.values:
            return len(set(self.values))
        return int(round((self.x_max - self.x_min) / self.x_step)) + 1

    def cs(self) -> list[float]:
        """The c values in increasing order."""
        if self.values:
            return sorted(set(self.values))
        return [2.0 ** round(self.x_min + i * self.x_step, 10) for i in range(self.count())]

    def to_dict(self) -> dict:
        return {
            "values": list(self.values),
            "x_min": self.x_min,
            "x_max": self.x_max,
            "x_step": self.x_step,
        }


MODES = ("grid", "bisect")
#: The finest bisection tolerance in x = log2 c: x is rounded to 10 decimals (so that run ids
#: are stable), and no constant is meaningful to a millionth of an octave.
MIN_TOL = 1e-6


@dataclass(frozen=True)
class Search:
    mode: str = "grid"
    grid: Grid = field(default_factory=Grid)
    tol: float = 0.05  # bisect: bracket width in x = log2 c
    coarse_step: float = 1.0  # bisect: x step of the coarse pass
    sharp_eps: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParameterError(f"unknown search {self.mode!r}; use grid or bisect", "search")
        if self.mode == "bisect" and self.grid.values:
            raise ParameterError(
                "search 'bisect' needs an x range (x_min, x_max), not values of c",
                "search",
                "x_min",
                "x_max",
                "c",
            )
        if not MIN_TOL <= self.tol < math.inf:  # nan fails too
            raise ParameterError(
                f"tol must be a number from {MIN_TOL:g} up (a bracket width in x = log2 c), "
                f"got {self.tol}",
                "tol",
            )
        if not 0 < self.coarse_step < math.inf:
            raise ParameterError(
                f"coarse_step must be a positive number, got {self.coarse_step}", "coarse_step"
            )
        if not 0 <= self.sharp_eps < math.inf:
            raise ParameterError(
                f"sharp_eps must be a number >= 0 (c_sharp: lambda_t / lambda0 > 1 + sharp_eps), "
                f"got {self.sharp_eps}",
                "sharp_eps",
            )

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "grid": self.grid.to_dict(),
            "tol": self.tol,
            "coarse_step": self.coarse_step,
            "sharp_eps": self.sharp_eps,
        }
