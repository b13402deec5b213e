"""The phase rules, once: what a run crossed, the phase it falls in, and the critical constants
of a c-scan, as defined in Kalra & Barkeshli (2023). Pure numpy, no torch.

Over a scan (runs of increasing c for one initialization and one SGD seed), with L_t the loss
on the fixed loss batch and lambda_t the sharpness, t = 1..T:

- ``c_loss``: the smallest c with L_t / L_0 > 1 for some t (the loss catapults);
- ``c_sharp``: the smallest c with lambda_t / lambda_0 > 1 + eps for some t;
- ``c_max``: the largest c that does not diverge;
- ``c_barrier``: the smallest c whose loss on the segment from theta_0 to theta_T exceeds L_0;
  c_max where none occurs (the authors' convention).

A constant the grid leaves undetermined is ``nan`` with a status saying why, never invented:
no catapult before the first divergence ("not-before-divergence"); the grid ended first
("above-grid": ``bound`` is the largest c tried, a lower bound; c_max's value is that bound
too); a sharpness that was not finite or did not converge where the rule needed it
("unmeasured"; a lambda0 that was not measured makes every constant of the scan unmeasured,
since c = eta * lambda0 itself is then unknown).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NAMES = ("c_loss", "c_sharp", "c_barrier", "c_max")

FOUND = "found"
NOT_BEFORE_DIVERGENCE = "not-before-divergence"
ABOVE_GRID = "above-grid"
NO_RUNS = "no-runs"
UNMEASURED = "unmeasured"
STATUSES = (FOUND, NOT_BEFORE_DIVERGENCE, ABOVE_GRID, NO_RUNS, UNMEASURED)

#: Below this max_t lambda_t / lambda_0 a run that neither catapulted nor diverged is a
#: "sharpness reduction" rather than "lazy" (the phases table's extra rule).
SHARPNESS_REDUCTION = 0.95

#: The phase of one run, from the first rule that holds (``phase_of``).
DIVERGENCE = "divergence"
LOSS_SHARPNESS_CATAPULT = "loss-sharpness catapult"
LOSS_CATAPULT = "loss catapult"
REDUCTION = "sharpness reduction"
LAZY = "lazy: loss falls"
PHASES = (UNMEASURED, DIVERGENCE, LOSS_SHARPNESS_CATAPULT, LOSS_CATAPULT, REDUCTION, LAZY)


@dataclass(frozen=True)
class RunSummary:
    """What the phase rules need from one run."""

    c: float
    diverged: bool
    loss_ratio_max: float  # max_t L_t / L_0, t >= 1 (over the steps before divergence)
    sharp_ratio_max: float  # max_t lambda_t / lambda_0, t >= 1
    barrier: bool  # the loss on the segment theta_0 -> theta_T exceeded L_0
    #: every lambda_t (t >= 1, before a divergence) is finite and its estimator converged
    sharp_measured: bool = True
    #: lambda_0 (index 0 of the run's sharpness) is finite, positive and converged
    lambda0_measured: bool = True

    @property
    def measured(self) -> bool:
        return self.sharp_measured and self.lambda0_measured


def summarize(
    c: float,
    diverged: bool,
    loss: np.ndarray,
    sharpness: np.ndarray,
    barrier_loss: np.ndarray,
    converged: np.ndarray | None = None,
) -> RunSummary:
    """What the rules need from a run's arrays (index 0 is the initialization). ``converged``
    (per index, as stored) marks estimates that did not meet their stopping rule; a run whose
    sharpness is not finite or not converged where it was measured is ``sharp_measured=False``
    (after a divergence nothing is measured, so nothing is missing)."""
    loss = np.asarray(loss, dtype=float)
    sharpness = np.asarray(sharpness, dtype=float)
    barrier_loss = np.asarray(barrier_loss, dtype=float)
    loss0, lambda0 = float(loss[0]), float(sharpness[0])
    ok = np.ones(sharpness.size, dtype=bool) if converged is None else np.asarray(converged, bool)

    def ratio_max(values: np.ndarray, reference: float) -> float:
        finite = values[np.isfinite(values)]
        return float(finite.max() / reference) if finite.size else 0.0

    lambda0_measured = bool(math.isfinite(lambda0) and lambda0 > 0 and ok[:1].all())
    sharp_measured = bool(diverged) or bool(np.isfinite(sharpness[1:]).all() and ok[1:].all())
    barrier = bool(barrier_loss.size > 1 and np.nanmax(barrier_loss[1:]) > loss0)
    return RunSummary(
        c=float(c),
        diverged=bool(diverged),
        loss_ratio_max=ratio_max(loss[1:], loss0),
        sharp_ratio_max=ratio_max(sharpness[1:], lambda0),
        barrier=barrier,
        sharp_measured=sharp_measured,
        lambda0_measured=lambda0_measured,
    )


# -- the predicates ------------------------------------------------------------------------------
def loss_catapult(run: RunSummary) -> bool:
    """L_t > L_0 for some t >= 1."""
    return run.loss_ratio_max > 1.0


def sharpness_catapult(run: RunSummary, sharp_eps: float = 0.0) -> bool:
    """lambda_t > (1 + eps) lambda_0 for some t >= 1 (never on an unmeasured sharpness)."""
    return run.measured and run.sharp_ratio_max > 1.0 + sharp_eps


def barrier(run: RunSummary) -> bool:
    """The loss on the segment theta_0 -> theta_T exceeded L_0."""
    return run.barrier


def diverged(run: RunSummary) -> bool:
    return run.diverged


def sharpness_reduced(run: RunSummary) -> bool:
    return run.measured and run.sharp_ratio_max < SHARPNESS_REDUCTION


def transitions(sharp_eps: float = 0.0) -> dict[str, Callable[[RunSummary], bool]]:
    """Constant name -> the predicate whose first crossing (in increasing c) defines it. c_max's
    is the divergence itself, which every search treats as crossing (so its predicate alone is
    never true)."""
    return {
        "c_loss": loss_catapult,
        "c_sharp": lambda run: sharpness_catapult(run, sharp_eps),
        "c_barrier": barrier,
        "c_max": lambda run: False,
    }


#: The constants whose rule reads the sharpness (an unmeasured one leaves them unmeasured).
NEEDS_SHARPNESS = frozenset({"c_sharp"})


def phase_of(run: RunSummary, sharp_eps: float = 0.0) -> str:
    """The phase of one run (one of ``PHASES``); a run whose sharpness was not measured is
    "unmeasured" unless it diverged, never a sharpness phase."""
    if run.diverged:
        return DIVERGENCE
    if not run.measured:
        return UNMEASURED
    if sharpness_catapult(run, sharp_eps) and loss_catapult(run):
        return LOSS_SHARPNESS_CATAPULT
    if loss_catapult(run):
        return LOSS_CATAPULT
    if sharpness_reduced(run):
        return REDUCTION
    return LAZY


# -- the constants -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Constant:
    value: float
    status: str  # one of STATUSES
    bound: float = math.nan  # "above-grid": the largest c tried (the true value is higher)

    @property
    def determined(self) -> bool:
        return self.status == FOUND

    @property
    def lower_bound(self) -> float:
        """The lower bound an above-grid constant gives (nan otherwise)."""
        if self.status != ABOVE_GRID:
            return math.nan
        return self.bound if math.isfinite(self.bound) else self.value

    def to_dict(self) -> dict[str, Any]:
        """``{"value", "status"}`` (nan as None), plus ``"bound"`` for an above-grid one."""
        out: dict[str, Any] = {"value": _finite(self.value), "status": self.status}
        if self.status == ABOVE_GRID and math.isfinite(self.lower_bound):
            out["bound"] = self.lower_bound
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], largest_c: float = math.nan) -> Constant:
        """The inverse of ``to_dict``; an above-grid constant stored without its bound (files
        before schema 2) takes ``largest_c``, the largest c its scan tried."""
        value = math.nan if data.get("value") is None else float(data["value"])
        status = str(data["status"])
        bound = data.get("bound")
        if bound is None and status == ABOVE_GRID:
            bound = value if math.isfinite(value) else largest_c
        return cls(value, status, math.nan if bound is None else float(bound))


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _first(
    runs: Sequence[RunSummary], predicate: Callable[[RunSummary], bool], needs_sharpness: bool
) -> Constant:
    for run in runs:
        if run.diverged:
            return Constant(math.nan, NOT_BEFORE_DIVERGENCE)
        if needs_sharpness and not run.measured:
            return Constant(math.nan, UNMEASURED)
        if predicate(run):
            return Constant(run.c, FOUND)
    return Constant(math.nan, ABOVE_GRID, runs[-1].c)


def critical_constants(runs: Sequence[RunSummary], sharp_eps: float = 0.0) -> dict[str, Constant]:
    """The four constants of one scan. ``runs`` may be in any order; only runs up to the first
    divergence count (the scan stops there)."""
    ordered = sorted(runs, key=lambda r: r.c)
    if not ordered:
        return {name: Constant(math.nan, NO_RUNS) for name in NAMES}
    if not all(r.lambda0_measured for r in ordered):
        return {name: Constant(math.nan, UNMEASURED) for name in NAMES}
    first_divergent = next((i for i, r in enumerate(ordered) if r.diverged), None)
    stable = ordered if first_divergent is None else ordered[:first_divergent]
    if first_divergent is None:
        c_max = Constant(ordered[-1].c, ABOVE_GRID, ordered[-1].c)
    elif first_divergent == 0:
        c_max = Constant(math.nan, NOT_BEFORE_DIVERGENCE)
    else:
        c_max = Constant(stable[-1].c, FOUND)
    scan = ordered if first_divergent is None else ordered[: first_divergent + 1]
    rules = transitions(sharp_eps)
    out = {
        name: _first(scan, rules[name], name in NEEDS_SHARPNESS)
        for name in NAMES
        if name != "c_max"
    }
    if out["c_barrier"].status == NOT_BEFORE_DIVERGENCE and c_max.determined:
        out["c_barrier"] = Constant(c_max.value, FOUND)  # the authors' convention: c_max if none
    out["c_max"] = c_max
    return {name: out[name] for name in NAMES}
