"""The critical constants of one c-scan, defined as in Kalra & Barkeshli (2023).

Pure numpy, no torch: the reader and ``phasebench show`` use it too.

Over a scan (runs of increasing c for one initialization and one SGD seed), with
L_t the loss on the fixed loss batch and lambda_t the sharpness, t = 1..T:

- ``c_loss``: the smallest c with L_t / L_0 > 1 for some t (the loss catapults);
- ``c_sharp``: the smallest c with lambda_t / lambda_0 > 1 + eps for some t;
- ``c_max``: the largest c that does not diverge;
- ``c_barrier``: the smallest c whose loss on the segment from theta_0 to theta_T exceeds L_0;
  c_max where none occurs (the authors' convention).

A constant the grid leaves undetermined is ``nan`` with a status saying why, never invented:
no catapult before the first divergence ("not-before-divergence"), no divergence within the grid
for c_max ("above-grid", the value is then the largest c tried, a lower bound).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NAMES = ("c_loss", "c_sharp", "c_barrier", "c_max")


@dataclass(frozen=True)
class RunSummary:
    """What the constants need from one run."""

    c: float
    diverged: bool
    loss_ratio_max: float  # max_t L_t / L_0, t >= 1 (over the steps before divergence)
    sharp_ratio_max: float  # max_t lambda_t / lambda_0, t >= 1
    barrier: bool  # the loss on the segment theta_0 -> theta_T exceeded L_0


@dataclass(frozen=True)
class Constant:
    value: float
    status: str  # "found", "not-before-divergence", "above-grid", "no-runs"

    @property
    def determined(self) -> bool:
        return self.status == "found"


def _first(runs: Sequence[RunSummary], predicate) -> Constant:
    for run in runs:
        if run.diverged:
            return Constant(math.nan, "not-before-divergence")
        if predicate(run):
            return Constant(run.c, "found")
    return Constant(math.nan, "above-grid")


def critical_constants(runs: Sequence[RunSummary], sharp_eps: float = 0.0) -> dict[str, Constant]:
    """The four constants of one scan. ``runs`` may be in any order; only runs up to the first
    divergence count (the scan stops there)."""
    ordered = sorted(runs, key=lambda r: r.c)
    if not ordered:
        return {name: Constant(math.nan, "no-runs") for name in NAMES}
    first_divergent = next((i for i, r in enumerate(ordered) if r.diverged), None)
    stable = ordered if first_divergent is None else ordered[:first_divergent]
    if first_divergent is None:
        c_max = Constant(ordered[-1].c, "above-grid")
    elif first_divergent == 0:
        c_max = Constant(math.nan, "not-before-divergence")
    else:
        c_max = Constant(stable[-1].c, "found")
    scan = ordered if first_divergent is None else ordered[: first_divergent + 1]
    c_loss = _first(scan, lambda r: r.loss_ratio_max > 1.0)
    c_sharp = _first(scan, lambda r: r.sharp_ratio_max > 1.0 + sharp_eps)
    c_barrier = _first(scan, lambda r: r.barrier)
    if c_barrier.status == "not-before-divergence" and c_max.determined:
        c_barrier = Constant(c_max.value, "found")  # the authors' convention: c_max if none
    return {"c_loss": c_loss, "c_sharp": c_sharp, "c_barrier": c_barrier, "c_max": c_max}


@dataclass(frozen=True)
class Aggregate:
    mean: float
    std: float
    min: float
    max: float
    n: int  # how many scans determined it
    of: int  # how many scans there were


def aggregate(values: Sequence[Constant]) -> Aggregate:
    """Mean, std (ddof=0), min and max over the scans that determined the constant."""
    found = np.array([v.value for v in values if v.determined], dtype=float)
    if found.size == 0:
        return Aggregate(math.nan, math.nan, math.nan, math.nan, 0, len(values))
    return Aggregate(
        float(found.mean()),
        float(found.std()),
        float(found.min()),
        float(found.max()),
        int(found.size),
        len(values),
    )
