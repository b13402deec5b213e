"""The critical constants of several points as in the paper's phase-diagram figure.

- Several points of one series (they differ only in depth and width): c_loss, c_sharp,
  c_barrier and c_max (mean over seeds, bars min..max) against d/w or 1/w, c on a log2 axis, the
  phase regions shaded between the curves, reference lines at c = 2 and c = 4.
- Points that share no such axis: the same, one column per point, labelled with what differs.

Marker conventions: filled, every seed determined the constant; half-filled, only some did;
open with an arrow, a lower bound (the grid ended first); nothing, no seed determined it (the
legend says so). Nothing is ever invented. The one-point figure is ``point_phases.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter, NullLocator

from phasebench.analysis.labels import c_label, unit_of
from phasebench.analysis.phases import NAMES
from phasebench.config import value_at
from phasebench.errors import UsageError
from phasebench.plotting.phase_parts import (
    BARRIER_LINE,
    c_axis,
    c_range,
    constant_label,
    lower_bound,
    marker_notes,
    phase_handles,
    references,
)
from phasebench.plotting.points import (
    COMPONENTS,
    GEOMETRY,
    PointView,
    component_label,
    describe,
    protocol,
)
from phasebench.plotting.style import (
    CONSTANT_STYLE,
    HATCH_EDGE,
    NOT_PROBED,
    PHASES,
    new_figure,
)

AXES = ("d/w", "1/w", "index")
AXIS_LABEL = {
    "d/w": r"$d\,/\,w$   (depth / width)",
    "1/w": r"$1\,/\,w$   (1 / width)",
    "index": "point",
}


def key_values(views: Sequence[PointView], key: str) -> list[Any]:
    """Each point's value of a configuration key (``batch_size``, ``model.width``,
    ``optimizer``): the axis a sweep varied, drawn with ``phasebench plot --x KEY``."""
    try:
        return [value_at(v.config, key) for v in views]
    except (KeyError, TypeError):
        raise UsageError(
            f"--x {key}: not a value of these configurations; give a field (batch_size), a "
            "component (optimizer) or a component's option (model.width)"
        ) from None


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def axis_values(views: Sequence[PointView], axis: str) -> np.ndarray:
    """The x of each point on ``axis`` ("d/w", "1/w", "index", or a configuration key: its
    numbers, or the position of each distinct value when they are not numbers)."""
    if axis not in AXES:
        values = key_values(views, axis)
        if _numeric(values):
            return np.array(values, dtype=float)
        distinct = list(dict.fromkeys(map(str, values)))
        return np.array([distinct.index(str(v)) for v in values], dtype=float)
    if axis == "d/w":
        return np.array([v.depth / v.width for v in views], dtype=float)
    if axis == "1/w":
        return np.array([1.0 / v.width for v in views], dtype=float)
    if axis == "index":
        return np.arange(len(views), dtype=float)
    raise ValueError(f"axis must be one of {AXES}, not {axis!r}")


def available_axes(views: Sequence[PointView]) -> list[str]:
    """The x axes every point supports: d/w needs depth and width, 1/w a width."""
    axes = []
    if all(v.depth and v.width for v in views):
        axes.append("d/w")
    if all(v.width for v in views):
        axes.append("1/w")
    return axes or ["index"]


def _shade_columns(
    ax: Axes, xs: np.ndarray, views: Sequence[PointView], low: float, high: float, width: float
) -> bool:
    any_not_probed = False
    for x, view in zip(xs, views, strict=True):
        b_loss, b_sharp, top, diverges = view.boundaries()
        if math.isnan(top):
            continue
        edges = [low, b_loss, b_sharp, top, high]
        colors = [color for _, color in PHASES]
        for i in range(4):
            hatch = None
            color = colors[i]
            if i == 3 and not diverges:
                color, hatch, any_not_probed = NOT_PROBED[1], "///", True
            ax.bar(
                x,
                edges[i + 1] - edges[i],
                bottom=edges[i],
                width=width,
                color=color,
                hatch=hatch,
                edgecolor=HATCH_EDGE if hatch else "none",
                lw=0,
                zorder=0,
            )
    return any_not_probed


def _shade_between(
    ax: Axes, xs: np.ndarray, views: Sequence[PointView], low: float, high: float
) -> bool:
    bounds = np.array([v.boundaries() for v in views], dtype=float)
    keep = np.isfinite(bounds[:, 2])
    x, b = xs[keep], bounds[keep]
    if x.size == 0:
        return False
    left, right = ax.get_xlim()  # the end points' regions reach the frame
    x = np.concatenate([[min(left, x[0])], x, [max(right, x[-1])]])
    b = np.concatenate([b[:1], b, b[-1:]])
    diverges = b[:, 3] > 0.5
    colors = [color for _, color in PHASES]
    lows = [np.full(x.size, low), b[:, 0], b[:, 1]]
    highs = [b[:, 0], b[:, 1], b[:, 2]]
    for i in range(3):
        ax.fill_between(x, lows[i], highs[i], color=colors[i], lw=0, zorder=0)
    ax.fill_between(
        x, b[:, 2], high, where=diverges, color=colors[3], lw=0, zorder=0, interpolate=False
    )
    not_probed = ~diverges
    if not_probed.any():
        ax.fill_between(
            x,
            b[:, 2],
            high,
            where=not_probed,
            facecolor=NOT_PROBED[1],
            hatch="///",
            edgecolor=HATCH_EDGE,
            lw=0,
            zorder=0,
        )
    return bool(not_probed.any())


def _draw_constants(ax: Axes, xs: np.ndarray, views: Sequence[PointView], high: float) -> None:
    for name in NAMES:
        color, marker, _ = CONSTANT_STYLE[name]
        stats = [v.constants[name] for v in views]
        mean = np.array([s.mean for s in stats])
        err = np.array([[s.mean - s.min for s in stats], [s.max - s.mean for s in stats]])
        z = 3.6 if name == "c_barrier" else 4  # c_barrier often equals another: draw it below
        container = ax.errorbar(
            xs,
            mean,
            yerr=err,
            color=color,
            marker="none",
            lw=1.6,
            capsize=3,
            zorder=z,
            label=constant_label(name, views),
            gid=name,
            ls=BARRIER_LINE if name == "c_barrier" else "-",
        )
        container.lines[0].set_gid(name)
        for x, s in zip(xs, stats, strict=True):
            if s.determined:
                fill = "full" if s.n == s.of else "bottom"
                ax.plot(
                    [x],
                    [s.mean],
                    marker=marker,
                    color=color,
                    fillstyle=fill,
                    markerfacecoloralt="white",
                    ms=10 if name == "c_barrier" else 8,
                    markeredgecolor=color,
                    ls="none",
                    zorder=z + 0.5,
                )
            elif s.bounded:
                lower_bound(
                    ax,
                    (x, s.lower_bound),
                    (x, min(s.lower_bound * 1.35, high)),
                    marker,
                    color,
                    name,
                    ms=7,
                    lw=1.3,
                )


def _x_ticks(ax: Axes, xs: np.ndarray, views: Sequence[PointView], axis: str) -> None:
    if axis not in AXES:  # a configuration key: each distinct value, labelled
        values = key_values(views, axis)
        labels = dict(zip(xs.tolist(), map(str, values), strict=True))
        unique = sorted(labels)
        if _numeric(values) and len(unique) >= 2 and unique[-1] / unique[0] >= 4 > 0:
            ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(unique, labels=[labels[x] for x in unique], fontsize=8)
        if not _numeric(values) or len(unique) == 1:
            ax.set_xlim(unique[0] - 0.6, unique[-1] + 0.6)
        return
    if axis == "index":
        ax.set_xticks(
            xs,
            labels=[_difference_label(v, views) for v in views],
            rotation=20,
            ha="right",
            fontsize=8,
        )
        ax.set_xlim(xs.min() - 0.6, xs.max() + 0.6)
        return
    unique = np.unique(xs)
    if unique.size >= 2 and unique.max() / unique.min() >= 4:
        ax.set_xscale("log")
    span = unique.max() - unique.min() if unique.size > 1 else abs(unique[0]) or 1.0
    if ax.get_xscale() == "log":
        ax.set_xlim(unique.min() / 1.25, unique.max() * 1.25)
    else:
        ax.set_xlim(unique.min() - 0.06 * span, unique.max() + 0.06 * span)
    if unique.size <= 8:
        labels = []
        for x in unique:
            dw = sorted(
                {
                    (int(v.depth or 0), int(v.width or 0))
                    for v, vx in zip(views, xs, strict=True)
                    if vx == x
                }
            )
            geometry = "\n".join(f"d={d}, w={w}" if d else f"w={w}" for d, w in dw)
            labels.append(f"{x:.3g}\n{geometry}")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(unique, labels=labels, fontsize=8)


def differing_fields(views: Sequence[PointView]) -> tuple[str, ...]:
    """The components whose spec differs between the points."""
    return tuple(f for f in COMPONENTS if len({repr(v.config.get(f)) for v in views}) > 1)


def _difference_label(view: PointView, views: Sequence[PointView]) -> str:
    """What sets this point apart from the others: the components whose spec differs."""
    differing = differing_fields(views)
    if not differing:
        return view.summary.point_id[:8]
    return "\n".join(f"{f} {component_label(view.config[f])}" for f in differing)


def phase_diagram_axes(
    ax: Axes, views: Sequence[PointView], axis: str, c_range: tuple[float, float] | None = None
) -> bool:
    """Draw the phase diagram of ``views`` on ``ax``; returns whether a region was not probed.
    ``c_range`` (default: from the views) is the c axis's extent. The constants' error-bar
    lines carry gid = the constant's name."""
    xs = axis_values(views, axis)
    order = np.argsort(xs, kind="stable")
    xs, views = xs[order], [views[i] for i in order]
    low, high = c_range or c_range(views)
    _x_ticks(ax, xs, views, axis)
    if axis == "index":
        not_probed = _shade_columns(ax, xs, views, low, high, width=0.9)
    else:
        not_probed = _shade_between(ax, xs, views, low, high)
    _draw_constants(ax, xs, views, high)
    references(ax)
    c_axis(ax, low, high)
    ax.set_xlabel(AXIS_LABEL.get(axis, axis))
    unit = unit_of(views[0].config) if views else "hessian"
    ax.set_ylabel(f"{c_label(unit, tex=True)}   (log$_2$ scale)")
    return not_probed


def diagram_legend(figure: Figure, views: Sequence[PointView], not_probed: bool) -> None:
    """The legend of a phase diagram: the constants, the phases and the marker notes."""
    constants = [
        Line2D(
            [],
            [],
            color=CONSTANT_STYLE[name][0],
            marker=CONSTANT_STYLE[name][1],
            ls=BARRIER_LINE if name == "c_barrier" else "-",
            lw=1.6,
            label=constant_label(name, views),
        )
        for name in NAMES
    ]
    figure.legend(
        handles=[*constants, *phase_handles(not_probed), *marker_notes()],
        loc="outside right center",
        fontsize=8,
        framealpha=0.9,
        title="mean over seeds, bars: min–max",
        title_fontsize=8,
    )


def phase_diagram_figure(views: Sequence[PointView], axis: str = "d/w") -> Figure:
    """The phase diagram of several points against ``axis``. With axis "1/w" and several
    depths, one panel per depth (points of one depth form a curve in 1/w)."""
    views = list(views)
    if axis == "1/w" and len({v.depth for v in views}) > 1:
        groups = {}
        for view in views:
            groups.setdefault(view.depth, []).append(view)
        panels = [(f"depth d = {d:g}", group) for d, group in sorted(groups.items())]
    else:
        panels = [("", views)]
    figure = new_figure(4.2 * len(panels) + 3.6, 5.4)
    axes = np.atleast_1d(figure.subplots(1, len(panels), sharey=True, squeeze=False)[0])
    not_probed = False
    for ax, (title, group) in zip(axes, panels, strict=True):
        not_probed |= phase_diagram_axes(ax, group, axis, c_range(views))
        if title:
            ax.set_title(title, fontsize=10)
        if ax is not axes[0]:
            ax.set_ylabel("")
    diagram_legend(figure, views, not_probed)
    seeds = sorted({len(v.summary.scans) for v in views})
    leave_out = GEOMETRY if axis in ("d/w", "1/w") else ()
    differing = differing_fields(views) if axis == "index" else ()
    title = describe(views[0].config, leave_out, width=90, leave_out_fields=differing)
    figure.suptitle(
        f"phase diagram: {title}\n"
        f"{len(views)} points, {'/'.join(map(str, seeds))} seed(s) each; "
        f"{protocol(views[0].config)}",
        fontsize=10,
    )
    return figure


# the one-point figure moved to point_phases.py; importing it from here keeps working
from phasebench.plotting.point_phases import point_phase_figure  # noqa: E402

__all__ = [
    "AXES",
    "available_axes",
    "axis_values",
    "differing_fields",
    "phase_diagram_axes",
    "phase_diagram_figure",
    "point_phase_figure",
]
