"""What the phase figures share: the log2 c axis, its range, the reference lines at c = 2 and
c = 4, the legend entries of the phases and of the marker conventions, and the open marker of
a lower bound. Colours come from ``style.py``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from phasebench.plotting.points import PointView
from phasebench.plotting.style import (
    CONSTANT_STYLE,
    NOT_PROBED,
    NOTE_COLOR,
    PATCH_EDGE,
    PHASES,
    REFERENCE_COLOR,
    REFERENCE_CS,
    REFERENCE_LINE,
)

BARRIER_LINE = (0, (5, 2))


# -- shared pieces -----------------------------------------------------------------------------
def c_axis(ax: Axes, low: float, high: float, axis: str = "y") -> None:
    """A log2 axis for c with labelled ticks at powers of two (also at half powers when the
    range spans less than three octaves)."""
    getattr(ax, f"set_{axis}scale")("log", base=2)
    getattr(ax, f"set_{axis}lim")(low, high)
    lo, hi = math.floor(math.log2(low)), math.ceil(math.log2(high))
    step = 0.5 if hi - lo <= 3 else 1.0
    ticks = [2.0**x for x in np.arange(lo, hi + 1e-9, step) if low <= 2.0**x <= high]
    minor = [2.0**x for x in np.arange(lo, hi + 1e-9, step / 2) if low <= 2.0**x <= high]
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(FixedLocator(ticks))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    target.set_minor_locator(FixedLocator(minor))
    target.set_minor_formatter(NullFormatter())


def c_range(views: Sequence[PointView]) -> tuple[float, float]:
    cs = np.concatenate([v.cs() for v in views] + [np.array(REFERENCE_CS)])
    cs = cs[np.isfinite(cs) & (cs > 0)]
    return float(cs.min()) / 1.25, float(cs.max()) * 1.5


def references(ax: Axes, axis: str = "y") -> None:
    for c in REFERENCE_CS:
        line = ax.axhline if axis == "y" else ax.axvline
        line(
            c, color=REFERENCE_COLOR, lw=0.9, ls=REFERENCE_LINE, zorder=3, gid=f"reference c={c:g}"
        )


def phase_handles(any_not_probed: bool) -> list:
    handles = [Patch(facecolor=color, edgecolor=PATCH_EDGE, label=name) for name, color in PHASES]
    if any_not_probed:
        handles.append(
            Patch(facecolor=NOT_PROBED[1], edgecolor=PATCH_EDGE, hatch="///", label=NOT_PROBED[0])
        )
    handles.append(
        Line2D(
            [],
            [],
            color=REFERENCE_COLOR,
            lw=0.9,
            ls=REFERENCE_LINE,
            label="reference c = 2 and c = 4",
        )
    )
    return handles


def constant_label(name: str, views: Sequence[PointView]) -> str:
    symbol = CONSTANT_STYLE[name][2]
    missing = sum(
        1 for v in views if not v.constants[name].determined and not v.constants[name].bounded
    )
    bounds = sum(1 for v in views if not v.constants[name].determined and v.constants[name].bounded)

    def points(n: int) -> str:  # "at 2 points": a count of points, never a value of c
        return "" if len(views) == 1 else f" at {n} point{'s' if n != 1 else ''}"

    notes = []
    if bounds:
        notes.append(f"a lower bound{points(bounds)}")
    if missing:
        notes.append(f"undetermined{points(missing)}: omitted")
    return f"{symbol} ({'; '.join(notes)})" if notes else symbol


def marker_notes() -> list:
    return [
        Line2D(
            [],
            [],
            color=NOTE_COLOR,
            marker="o",
            ls="none",
            fillstyle="full",
            label="filled: every seed determined it",
        ),
        Line2D(
            [],
            [],
            color=NOTE_COLOR,
            marker="o",
            ls="none",
            fillstyle="bottom",
            label="half-filled: only some seeds did",
        ),
        Line2D(
            [],
            [],
            color=NOTE_COLOR,
            marker="o",
            ls="none",
            markerfacecolor="none",
            label="open + arrow: lower bound (grid ended)",
        ),
    ]


def lower_bound(
    ax: Axes,
    at: tuple[float, float],
    to: tuple[float, float],
    marker: str,
    color: str,
    name: str,
    ms: float,
    lw: float,
) -> None:
    """An open marker at a lower bound (the grid ended first) and an arrow pointing past it."""
    ax.plot(
        [at[0]],
        [at[1]],
        marker=marker,
        markerfacecolor="white",
        markeredgecolor=color,
        ms=ms,
        ls="none",
        zorder=5,
        gid=f"{name} lower bound",
    )
    ax.annotate(
        "", xy=to, xytext=at, arrowprops=dict(arrowstyle="-|>", color=color, lw=lw), zorder=5
    )
