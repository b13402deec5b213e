"""A critical constant (or lambda0, L0) over the scans (seeds) of one point: one aggregate
that the tables, ``show --json``, the stored points and the figures all read. Found values,
lower bounds (a scan whose grid ended first) and unmeasured scans are kept apart, so a per-scan
``>= 13.9`` stays a bound in the aggregate and nothing is ever invented."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from phasebench.analysis.phases import (
    ABOVE_GRID,
    FOUND,
    NO_RUNS,
    NOT_BEFORE_DIVERGENCE,
    UNMEASURED,
    Constant,
)

#: How a status reads in a note ("1 above grid").
STATUS_WORDS = {
    NOT_BEFORE_DIVERGENCE: "diverged first",
    ABOVE_GRID: "above grid",
    NO_RUNS: "no runs",
    UNMEASURED: "unmeasured",
}


@dataclass(frozen=True)
class Aggregate:
    """Mean, std (ddof=0), min and max over the ``n`` of ``of`` scans that determined the value;
    ``lower_bound``, the largest bound of the ``bounds`` scans whose grid ended first (nan when
    none did); ``statuses``, every scan's status counted."""

    mean: float
    std: float
    min: float
    max: float
    n: int  # how many scans determined it
    of: int  # how many scans there were
    lower_bound: float = math.nan
    bounds: int = 0
    statuses: tuple[tuple[str, int], ...] = ()

    @property
    def determined(self) -> bool:
        return self.n > 0

    @property
    def bounded(self) -> bool:
        return self.bounds > 0

    def count(self, status: str) -> int:
        return dict(self.statuses).get(status, 0)

    @property
    def unmeasured(self) -> int:
        return self.count(UNMEASURED)

    def note(self) -> str:
        """'' when every scan determined it; else what the others say: '1/2 seeds; 1 above
        grid'."""
        if self.n == self.of:
            return ""
        parts = [f"{self.n}/{self.of} seeds"]
        for status, count in sorted(self.statuses):
            if status != FOUND:
                parts.append(f"{count} {STATUS_WORDS.get(status, status)}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: mean, std, min, max, n, of (nan as None), plus ``lower_bound`` and
        ``bounds`` when a scan gave a bound, and ``unmeasured`` when a scan was unmeasured."""
        out: dict[str, Any] = {
            "mean": _finite(self.mean),
            "std": _finite(self.std),
            "min": _finite(self.min),
            "max": _finite(self.max),
            "n": self.n,
            "of": self.of,
        }
        if self.bounds:
            out["lower_bound"] = _finite(self.lower_bound)
            out["bounds"] = self.bounds
        if self.unmeasured:
            out["unmeasured"] = self.unmeasured
        return out


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _stats(found: np.ndarray) -> tuple[float, float, float, float]:
    if found.size == 0:
        return math.nan, math.nan, math.nan, math.nan
    return float(found.mean()), float(found.std()), float(found.min()), float(found.max())


def aggregate(values: Sequence[Constant]) -> Aggregate:
    """One constant over the scans of a point: statistics of the found values, the largest
    lower bound of the above-grid ones, every status counted."""
    found = np.array([v.value for v in values if v.determined], dtype=float)
    bounds = [v.lower_bound for v in values if math.isfinite(v.lower_bound)]
    statuses = tuple(sorted(Counter(v.status for v in values).items()))
    return Aggregate(
        *_stats(found),
        int(found.size),
        len(values),
        max(bounds) if bounds else math.nan,
        len(bounds),
        statuses,
    )


def aggregate_values(values: Sequence[float]) -> Aggregate:
    """Plain values that every scan has (lambda0, L0); a non-finite one is not counted."""
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    statuses = ((FOUND, int(finite.size)),) + (
        ((UNMEASURED, int(array.size - finite.size)),) if finite.size < array.size else ()
    )
    return Aggregate(*_stats(finite), int(finite.size), int(array.size), statuses=statuses)


def aggregate_from_dict(data: Mapping[str, Any]) -> Aggregate:
    """An aggregate as ``to_dict`` wrote it (older files: the six plain keys)."""

    def number(key: str) -> float:
        value = data.get(key)
        return math.nan if value is None else float(value)

    return Aggregate(
        number("mean"),
        number("std"),
        number("min"),
        number("max"),
        int(data["n"]),
        int(data["of"]),
        number("lower_bound"),
        int(data.get("bounds", 0)),
    )
