"""The four regimes of a long trajectory, labelled from its measurements: early transient,
intermediate saturation, progressive sharpening and the edge of stability (Kalra & Barkeshli
2023, section 1; Cohen et al. 2021). Pure numpy, no torch. docs/regimes.md states the rules,
their thresholds and why; ``Rules`` holds the thresholds.

In short, on a log step axis (x = log10(1 + step)), over the measurements that are finite,
positive and converged:

1. the sharpness (and its ratio r = lambda_t / threshold_t, which is lambda_t eta_t / 2 for
   SGD and GD) is smoothed by an interquartile mean over a window of about ``window_dex``
   decades, which neither minibatch noise nor the period-2 flip at the edge of stability moves;
2. each measurement gets a candidate label from the smoothed values, with hysteresis: the
   edge of stability while r stays in a band around 1; falling fast (or a loss above its
   initial value: a catapult) while the log-log slope of the sharpness is below
   ``-flat_slope``; progressive sharpening while that slope is above ``sharpening_slope``;
   saturation while it is in between;
3. runs shorter than ``min_points`` measurements are absorbed by equal neighbours or dropped; a
   sharpening starts where it leaves its trough and must raise the sharpness by ``min_rise``
   (else it is saturation);
4. what precedes the first sustained regime, if it holds a fast change, is the early transient;
   it ends where the sharpness reaches the level of the regime that follows.

``label`` returns a ``Regimes``: the regimes in time order (absent ones absent) and the
statistics of r over the edge-of-stability window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EARLY_TRANSIENT = "early-transient"
SATURATION = "saturation"
PROGRESSIVE_SHARPENING = "progressive-sharpening"
EDGE_OF_STABILITY = "edge-of-stability"
#: The regimes in the order a trajectory passes them.
NAMES = (EARLY_TRANSIENT, SATURATION, PROGRESSIVE_SHARPENING, EDGE_OF_STABILITY)

# the candidate labels of one measurement that are not regimes
_FAST = "fast"  # the sharpness falls fast, or the loss is above its initial value
_ABOVE = "above"  # the sharpness is above the threshold's band: unstable, not a regime
_SUSTAINED = (SATURATION, PROGRESSIVE_SHARPENING, EDGE_OF_STABILITY)


@dataclass(frozen=True)
class Rules:
    """The thresholds of the labelling (docs/regimes.md says why each is what it is)."""

    #: half-width of the smoothing window, in decades of steps (0.15: a factor 1.41 each way)
    window_dex: float = 0.15
    #: the window holds at least this many measurements each side (where the run has them)
    min_neighbours: int = 3
    #: and at most this many (bounds the cost on long, densely measured runs)
    max_neighbours: int = 100
    #: the slopes are fitted over this many times the smoothing window
    slope_window: float = 2.0
    #: a regime lasts at least this many measurements
    min_points: int = 5
    #: |d log lambda / d log step| below this is flat; a fall steeper than it is "fast"
    flat_slope: float = 0.15
    #: progressive sharpening starts above this slope and continues while above ``keep_slope``
    sharpening_slope: float = 0.15
    keep_slope: float = 0.07
    #: and raises the smoothed sharpness by at least this factor over its run
    min_rise: float = 1.25
    #: it starts at the last measurement within this factor of the lowest of its first half
    trough: float = 1.1
    #: the edge of stability starts with r = lambda / threshold in ``eos_enter`` and lasts
    #: while r stays in ``eos_stay`` (hysteresis)
    eos_enter: tuple[float, float] = (0.8, 1.25)
    eos_stay: tuple[float, float] = (0.7, 1.43)
    #: and only where the trajectory is not at rest: within the measurement's window r moves
    #: by more than this factor, or the loss rises somewhere (a run that has converged below
    #: the threshold, with r constant and the loss falling to zero, is saturation)
    eos_motion: float = 1.01
    #: a top eigenvalue at or below this is numerically zero: not a measured curvature
    zero: float = 1e-6


RULES = Rules()


@dataclass(frozen=True)
class Regime:
    """One regime: its name and the first and last measured steps inside it."""

    name: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Regimes:
    """The regimes of one trajectory, in time order, and the edge of stability's statistics:
    ``eos`` is {} without one, else {"mean", "spread", "start", "end", "measurements"}: the
    mean and standard deviation of lambda_t / threshold_t (lambda_t eta_t / 2 for SGD and GD;
    1.0 is exactly at the threshold) over the measurements of its window."""

    regimes: list[Regime] = field(default_factory=list)
    eos: dict[str, Any] = field(default_factory=dict)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The regimes as a results file stores them: ``[{"name", "start", "end"}, ...]``."""
        return [regime.to_dict() for regime in self.regimes]

    @classmethod
    def from_dicts(
        cls, regimes: Sequence[Mapping[str, Any]], eos: Mapping[str, Any] | None = None
    ) -> Regimes:
        """The ``Regimes`` a results file stored (``to_dicts`` and ``eos``)."""
        found = [Regime(str(r["name"]), int(r["start"]), int(r["end"])) for r in regimes]
        return cls(found, dict(eos or {}))

    def first(self, name: str) -> Regime | None:
        """The first regime called ``name``, or None when the trajectory has none."""
        return next((regime for regime in self.regimes if regime.name == name), None)

    def names(self) -> list[str]:
        return [regime.name for regime in self.regimes]


def label(
    step: Any,
    sharpness: Any,
    threshold: Any,
    loss: Any = None,
    converged: Any = None,
    *,
    rules: Rules = RULES,
) -> Regimes:
    """The regimes of a trajectory measured at ``step`` (M,), increasing, 0 = initialization.

    ``sharpness`` (M,) or (M, k): column 0 is the top eigenvalue. ``threshold`` (M,): the
    stability threshold in force at each measurement (2 / eta_t for SGD, ...), nan where it is
    not defined (then there is no edge of stability to find). ``loss`` (M,): the loss on the
    fixed loss batch (its rise above the initial value marks a catapult). ``converged`` (M,):
    whether each estimate met its stopping rule. A measurement that is not finite, not positive,
    numerically zero or did not converge is left out; a trajectory with fewer than
    ``rules.min_points`` measurements left has no regimes.
    """
    steps, sharp, ratio, loss_values = _measured(step, sharpness, threshold, loss, converged, rules)
    if steps.size < rules.min_points:
        return Regimes()
    x = np.log10(1.0 + steps)
    half = _half_widths(x, rules)
    log_sharp = _smooth(np.log(sharp), half)
    log_ratio = _smooth(np.log(ratio), half)
    reach = np.round(half * rules.slope_window).astype(int)
    slope = _slopes(x, log_sharp, reach)
    catapult = np.zeros(steps.size, dtype=bool)
    if loss_values is not None:
        catapult[1:] = loss_values[1:] > loss_values[0]
    moving = _moving(np.log(ratio), loss_values, half, rules)
    labels = _candidates(log_ratio, slope, catapult, moving, rules)
    runs = _clean(labels, log_sharp, rules)
    regimes = _regimes(runs, labels, steps, log_sharp, catapult, rules)
    return Regimes(regimes, _eos_statistics(regimes, steps, ratio))


# -- the measurements -------------------------------------------------------------------------
def _measured(step, sharpness, threshold, loss, converged, rules: Rules):
    """The measurements the rules may use: steps, sharpness, r = sharpness / threshold (nan
    where the threshold is undefined) and the loss (None when not given)."""
    steps = np.asarray(step, dtype=float).reshape(-1)
    sharp = np.asarray(sharpness, dtype=float)
    sharp = sharp[:, 0] if sharp.ndim == 2 else sharp.reshape(-1)
    thresholds = np.asarray(threshold, dtype=float).reshape(-1)
    given = {"sharpness": sharp, "threshold": thresholds}
    if loss is not None:
        given["loss"] = np.asarray(loss, dtype=float).reshape(-1)
    if converged is not None:
        given["converged"] = np.asarray(converged, dtype=bool).reshape(-1)
    for name, values in given.items():
        if values.size != steps.size:
            raise ValueError(f"{name} has {values.size} measurements, step has {steps.size}")
    keep = np.isfinite(steps) & np.isfinite(sharp) & (sharp > rules.zero)
    if converged is not None:
        keep &= given["converged"]
    if loss is not None:
        keep &= np.isfinite(given["loss"])
    if np.any(np.diff(steps[keep]) <= 0):
        raise ValueError("step must increase")
    defined = np.isfinite(thresholds) & (thresholds > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(defined, sharp / np.where(defined, thresholds, 1.0), np.nan)
    loss_values = given["loss"][keep] if loss is not None else None
    return steps[keep], sharp[keep], ratio[keep], loss_values


# -- smoothing on the log step axis -----------------------------------------------------------
def _half_widths(x: np.ndarray, rules: Rules) -> np.ndarray:
    """Measurements each side of each one in its window: those within ``window_dex`` below it
    (the sparser side on a linear cadence), between ``min_neighbours`` and ``max_neighbours``
    (the window is cut at the run's ends)."""
    index = np.arange(x.size)
    below = index - np.searchsorted(x, x - rules.window_dex, side="left")
    return np.clip(below, rules.min_neighbours, rules.max_neighbours)


def _smooth(values: np.ndarray, half: np.ndarray) -> np.ndarray:
    """The interquartile mean of each centred window, skipping nan (nan where all are)."""
    out = np.full(values.size, np.nan)
    for i, k in enumerate(half):
        window = values[max(i - k, 0) : i + k + 1]
        window = np.sort(window[np.isfinite(window)])
        if window.size:
            quarter = window.size // 4
            out[i] = window[quarter : window.size - quarter].mean()
    return out


def _slopes(x: np.ndarray, y: np.ndarray, half: np.ndarray) -> np.ndarray:
    """The least-squares slope of y against x over each window (clipped at the run's ends, so
    the first and last measurements get one-sided windows)."""
    n = x.size
    index = np.arange(n)
    lo = np.maximum(index - half, 0)
    hi = np.minimum(index + half, n - 1) + 1
    sums = [np.concatenate(([0.0], np.cumsum(v))) for v in (np.ones(n), x, y, x * x, x * y)]
    count, sx, sy, sxx, sxy = (s[hi] - s[lo] for s in sums)
    spread = sxx - sx * sx / count
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sxy - sx * sy / count) / spread
    return np.where(spread > 1e-12, slope, 0.0)


def _moving(
    log_ratio: np.ndarray, loss: np.ndarray | None, half: np.ndarray, rules: Rules
) -> np.ndarray:
    """Whether the trajectory is in motion around each measurement: the raw r moves by more
    than ``eos_motion`` within its window, or the loss rises between two of its measurements
    (the edge of stability oscillates; a converged run sits still)."""
    out = np.zeros(log_ratio.size, dtype=bool)
    motion = math.log(rules.eos_motion)
    for i, k in enumerate(half):
        window = slice(max(i - k, 0), i + k + 1)
        r = log_ratio[window]
        r = r[np.isfinite(r)]
        out[i] = r.size > 1 and float(r.max() - r.min()) > motion
        if not out[i] and loss is not None:
            out[i] = bool(np.any(np.diff(loss[window]) > 0))
    return out


# -- labelling --------------------------------------------------------------------------------
def _candidates(
    log_ratio: np.ndarray,
    slope: np.ndarray,
    catapult: np.ndarray,
    moving: np.ndarray,
    rules: Rules,
) -> list[str]:
    """Each measurement's label before the minimum durations, in time order (the previous
    label gives the hysteresis)."""
    enter = [math.log(v) for v in rules.eos_enter]
    stay = [math.log(v) for v in rules.eos_stay]
    labels: list[str] = []
    previous = ""
    for r, g, up, astir in zip(log_ratio, slope, catapult, moving, strict=True):
        defined = bool(np.isfinite(r))
        if up:
            now = _FAST
        elif (
            defined
            and astir
            and (
                enter[0] <= r <= enter[1]
                or (previous == EDGE_OF_STABILITY and stay[0] <= r <= stay[1])
            )
        ):
            now = EDGE_OF_STABILITY
        elif defined and r > enter[1]:
            now = _ABOVE
        elif g <= -rules.flat_slope:
            now = _FAST
        elif g >= rules.sharpening_slope or (
            previous == PROGRESSIVE_SHARPENING and g >= rules.keep_slope
        ):
            now = PROGRESSIVE_SHARPENING
        else:
            now = SATURATION
        labels.append(now)
        previous = now
    return labels


def _runs(labels: Sequence[str | None]) -> list[list]:
    """Run-length encoding: [label, first index, index after the last]."""
    runs: list[list] = []
    for i, name in enumerate(labels):
        if runs and runs[-1][0] == name:
            runs[-1][2] = i + 1
        else:
            runs.append([name, i, i + 1])
    return runs


def _clean(labels: list[str], log_sharp: np.ndarray, rules: Rules) -> list[list]:
    """The sustained runs: a short interruption between two runs of one regime joins them, a
    regime shorter than ``min_points`` is dropped (None), and a progressive sharpening that
    rises less than ``min_rise`` is saturation."""
    names: list[str | None] = list(labels)
    runs = _runs(names)
    for before, run, after in zip(runs, runs[1:], runs[2:], strict=False):
        short = run[2] - run[1] < rules.min_points
        if short and before[0] == after[0] and before[0] in _SUSTAINED:
            names[run[1] : run[2]] = [before[0]] * (run[2] - run[1])
    for name, lo, hi in _runs(names):
        if name in _SUSTAINED and hi - lo < rules.min_points:
            names[lo:hi] = [None] * (hi - lo)
    for name, lo, hi in _runs(names):
        if name != PROGRESSIVE_SHARPENING:
            continue
        # a rise starts where it leaves its trough: the smoothed slope sees it a window early
        first_half = log_sharp[lo : lo + (hi - lo) // 2 + 1]
        near = np.flatnonzero(first_half <= first_half.min() + math.log(rules.trough))
        trough = lo + int(near[-1])
        names[lo:trough] = [SATURATION] * (trough - lo)
        if log_sharp[hi - 1] - log_sharp[trough] < math.log(rules.min_rise):
            names[trough:hi] = [SATURATION] * (hi - trough)
    for name, lo, hi in _runs(names):
        if name in _SUSTAINED and hi - lo < rules.min_points:
            names[lo:hi] = [None] * (hi - lo)
    return _runs(names)


def _regimes(
    runs: list[list],
    labels: list[str],
    steps: np.ndarray,
    log_sharp: np.ndarray,
    catapult: np.ndarray,
    rules: Rules,
) -> list[Regime]:
    """The regimes from the cleaned runs; what precedes the first one is the early transient
    when it holds a fast change and two measurements, and a short prefix without one belongs
    to the first regime."""
    found = [run for run in runs if run[0] in _SUSTAINED]
    first = found[0][1] if found else len(labels)
    out: list[Regime] = []
    fast = _FAST in labels[:first]
    if found and first >= 2 and fast and found[0][0] != PROGRESSIVE_SHARPENING:
        # the transient ends where the sharpness reaches the level of what follows it
        level = np.median(log_sharp[first : first + rules.min_points])
        settled = np.abs(log_sharp[:first] - level) <= math.log(rules.trough)
        settled[: int(np.flatnonzero(catapult[:first] | ~settled).max(initial=0)) + 1] = False
        if settled.any():
            start = max(int(np.argmax(settled)), 2)
            found[0] = [found[0][0], start, found[0][2]]
            first = start
    if first >= 2 and fast:
        out.append(Regime(EARLY_TRANSIENT, int(steps[0]), int(steps[first - 1])))
    elif found and first < rules.min_points:
        found[0] = [found[0][0], 0, found[0][2]]
    out += [Regime(name, int(steps[lo]), int(steps[hi - 1])) for name, lo, hi in found]
    return out


def _eos_statistics(regimes: list[Regime], steps: np.ndarray, ratio: np.ndarray) -> dict:
    """Mean and spread of r over every measurement inside an edge-of-stability regime; its
    window runs from the first one's start to the last one's end."""
    eos = [regime for regime in regimes if regime.name == EDGE_OF_STABILITY]
    if not eos:
        return {}
    inside = np.zeros(steps.size, dtype=bool)
    for regime in eos:
        inside |= (steps >= regime.start) & (steps <= regime.end)
    values = ratio[inside & np.isfinite(ratio)]
    return {
        "mean": float(values.mean()),
        "spread": float(values.std()),
        "start": eos[0].start,
        "end": eos[-1].end,
        "measurements": int(values.size),
    }
