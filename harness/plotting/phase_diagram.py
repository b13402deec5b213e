"""The critical constants as in the paper's phase-diagram figure.

- Several points of one series (they differ only in depth and width): c_loss, c_sharp,
  c_barrier and c_max (mean over seeds, bars min..max) against d/w or 1/w, c on a log2 axis, the
  phase regions shaded between the curves, reference lines at c = 2 and c = 4.
- Points that share no such axis: the same, one column per point, labelled with what differs.
- One point: the constants as a strip over the c axis with the regions shaded, under the per-c
  max_t L_t / L_0 and max_t lambda_t / lambda_0 of every seed.

Marker conventions: filled, every seed determined the constant; half-filled, only some did;
open with an arrow, a lower bound (the grid ended first); nothing, no seed determined it (the
legend says so). Nothing is ever invented.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

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
    NOT_PROBED,
    PHASES,
    REFERENCE_CS,
    new_figure,
    plain_log_axis,
)
from phasebench.probe.constants import NAMES

DIVERGED_COLOR = "#d62728"
BARRIER_LINE = (0, (5, 2))
AXES = ("d/w", "1/w", "index")
AXIS_LABEL = {
    "d/w": r"$d\,/\,w$   (depth / width)",
    "1/w": r"$1\,/\,w$   (1 / width)",
    "index": "point",
}


# -- shared pieces -----------------------------------------------------------------------------
def _c_axis(ax: Axes, low: float, high: float, axis: str = "y") -> None:
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


def _c_range(views: Sequence[PointView]) -> tuple[float, float]:
    cs = np.concatenate([v.cs() for v in views] + [np.array(REFERENCE_CS)])
    cs = cs[np.isfinite(cs) & (cs > 0)]
    return float(cs.min()) / 1.25, float(cs.max()) * 1.5


def _references(ax: Axes, axis: str = "y") -> None:
    for c in REFERENCE_CS:
        line = ax.axhline if axis == "y" else ax.axvline
        line(c, color="0.25", lw=0.9, ls=(0, (4, 3)), zorder=3, gid=f"reference c={c:g}")


def _phase_handles(any_not_probed: bool) -> list:
    handles = [Patch(facecolor=color, edgecolor="0.6", label=name) for name, color in PHASES]
    if any_not_probed:
        handles.append(
            Patch(facecolor=NOT_PROBED[1], edgecolor="0.6", hatch="///", label=NOT_PROBED[0])
        )
    handles.append(
        Line2D([], [], color="0.25", lw=0.9, ls=(0, (4, 3)), label="reference c = 2 and c = 4")
    )
    return handles


def _constant_label(name: str, views: Sequence[PointView]) -> str:
    symbol = CONSTANT_STYLE[name][2]
    missing = sum(
        1 for v in views if not v.constants[name].determined and not v.constants[name].lower_bounds
    )
    bounds = sum(
        1 for v in views if not v.constants[name].determined and v.constants[name].lower_bounds
    )
    notes = []
    if bounds:
        notes.append(f"lower bound at {bounds}")
    if missing:
        notes.append(f"undetermined at {missing}: omitted")
    if len(views) == 1:
        notes = [n.replace(" at 1", "") for n in notes]
    return f"{symbol} ({'; '.join(notes)})" if notes else symbol


def _marker_notes() -> list:
    return [
        Line2D(
            [],
            [],
            color="0.3",
            marker="o",
            ls="none",
            fillstyle="full",
            label="filled: every seed determined it",
        ),
        Line2D(
            [],
            [],
            color="0.3",
            marker="o",
            ls="none",
            fillstyle="bottom",
            label="half-filled: only some seeds did",
        ),
        Line2D(
            [],
            [],
            color="0.3",
            marker="o",
            ls="none",
            markerfacecolor="none",
            label="open + arrow: lower bound (grid ended)",
        ),
    ]


# -- several points ----------------------------------------------------------------------------
def axis_values(views: Sequence[PointView], axis: str) -> np.ndarray:
    """The x of each point on ``axis`` ("d/w", "1/w" or "index")."""
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
                edgecolor="0.75" if hatch else "none",
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
            edgecolor="0.75",
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
            label=_constant_label(name, views),
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
            elif s.lower_bounds:
                _lower_bound(
                    ax,
                    (x, s.lower_bound),
                    (x, min(s.lower_bound * 1.35, high)),
                    marker,
                    color,
                    name,
                    ms=7,
                    lw=1.3,
                )


def _lower_bound(
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


def _x_ticks(ax: Axes, xs: np.ndarray, views: Sequence[PointView], axis: str) -> None:
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
    low, high = c_range or _c_range(views)
    _x_ticks(ax, xs, views, axis)
    if axis == "index":
        not_probed = _shade_columns(ax, xs, views, low, high, width=0.9)
    else:
        not_probed = _shade_between(ax, xs, views, low, high)
    _draw_constants(ax, xs, views, high)
    _references(ax)
    _c_axis(ax, low, high)
    ax.set_xlabel(AXIS_LABEL[axis])
    ax.set_ylabel(r"$c = \eta\,\lambda_0$   (log$_2$ scale)")
    return not_probed


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
        not_probed |= phase_diagram_axes(ax, group, axis, _c_range(views))
        if title:
            ax.set_title(title, fontsize=10)
        if ax is not axes[0]:
            ax.set_ylabel("")
    constants = [
        Line2D(
            [],
            [],
            color=CONSTANT_STYLE[name][0],
            marker=CONSTANT_STYLE[name][1],
            ls=BARRIER_LINE if name == "c_barrier" else "-",
            lw=1.6,
            label=_constant_label(name, views),
        )
        for name in NAMES
    ]
    figure.legend(
        handles=[*constants, *_phase_handles(not_probed), *_marker_notes()],
        loc="outside right center",
        fontsize=8,
        framealpha=0.9,
        title="mean over seeds, bars: min–max",
        title_fontsize=8,
    )
    seeds = sorted({len(v.summary.scans) for v in views})
    leave_out = GEOMETRY if axis != "index" else ()
    differing = differing_fields(views) if axis == "index" else ()
    title = describe(views[0].config, leave_out, width=90, leave_out_fields=differing)
    figure.suptitle(
        f"phase diagram: {title}\n"
        f"{len(views)} points, {'/'.join(map(str, seeds))} seed(s) each; "
        f"{protocol(views[0].config)}",
        fontsize=10,
    )
    return figure


# -- one point ---------------------------------------------------------------------------------
def _shade_c(ax: Axes, view: PointView, low: float, high: float) -> bool:
    b_loss, b_sharp, top, diverges = view.boundaries()
    if math.isnan(top):
        return False
    edges = [low, b_loss, b_sharp, top, high]
    for i, (_, color) in enumerate(PHASES):
        if i == 3 and not diverges:
            ax.axvspan(
                edges[3],
                edges[4],
                facecolor=NOT_PROBED[1],
                hatch="///",
                edgecolor="0.8",
                lw=0,
                zorder=0,
            )
        elif edges[i + 1] > edges[i]:
            ax.axvspan(edges[i], edges[i + 1], color=color, lw=0, zorder=0)
    return not diverges


def point_phase_figure(view: PointView) -> Figure:
    """One point: per-c max ratios of every seed over the shaded phases, and the constants as
    a strip over the same log2 c axis. The ratio lines carry gid "loss seed <s> sgd <k>" and
    "sharpness seed <s> sgd <k>"; the strip's constant markers gid = the constant's name. A
    c_sharp threshold 1 + eps above 1 (the scans') is drawn as a second dotted line."""
    figure = new_figure(11.0, 6.4)
    top, strip = figure.subplots(2, 1, sharex=True, height_ratios=[3.0, 1.35])
    low, high = _c_range([view])
    not_probed = _shade_c(top, view, low, high)
    _shade_c(strip, view, low, high)
    ratio_handles = []
    epsilons = sorted({scan.sharp_eps for scan in view.summary.scans if scan.sharp_eps})
    diverged_cs = set()
    for i, scan in enumerate(view.summary.scans):
        stable = [r for r in scan.runs if not r.diverged]
        diverged_cs |= {r.c for r in scan.runs if r.diverged}
        cs = [r.c for r in stable]
        tag = f"seed {scan.config['seed']} sgd {scan.config['sgd_seed']}"
        alpha = 1.0 if i == 0 else 0.55
        top.plot(
            cs,
            [r.loss_ratio_max for r in stable],
            color="#1f5fbf",
            marker="o",
            ms=4,
            lw=1.4,
            alpha=alpha,
            gid=f"loss {tag}",
        )
        top.plot(
            cs,
            [r.sharp_ratio_max for r in stable],
            color="#c2410c",
            marker="s",
            ms=4,
            lw=1.4,
            alpha=alpha,
            gid=f"sharpness {tag}",
        )
    ratio_handles += [
        Line2D([], [], color="#1f5fbf", marker="o", ms=4, label=r"$\max_t\, L_t / L_0$"),
        Line2D(
            [], [], color="#c2410c", marker="s", ms=4, label=r"$\max_t\, \lambda_t / \lambda_0$"
        ),
        Line2D(
            [],
            [],
            color="0.35",
            ls=":",
            label="ratio 1" + "".join(f" (and 1 + ε = {1 + eps:g})" for eps in epsilons),
        ),
    ]
    top.set_yscale("log")
    top.axhline(1.0, color="0.35", ls=":", lw=1.0, zorder=2)
    for eps in epsilons:
        top.axhline(1.0 + eps, color="#c2410c", ls=":", lw=0.8, zorder=2)
    if diverged_cs:
        ymax = top.get_ylim()[1]
        top.plot(
            sorted(diverged_cs),
            [ymax] * len(diverged_cs),
            marker="X",
            ls="none",
            color=DIVERGED_COLOR,
            ms=9,
            clip_on=False,
            zorder=6,
            gid="diverged",
        )
        top.set_ylim(top=ymax)
        ratio_handles.append(
            Line2D(
                [],
                [],
                marker="X",
                ls="none",
                color=DIVERGED_COLOR,
                label="diverged (loss above threshold)",
            )
        )
    plain_log_axis(top)
    top.set_ylabel(r"largest ratio over steps $t = 1..T$")
    top.grid(True, which="major", alpha=0.3)
    _references(top, "x")

    rows = list(reversed(NAMES))
    labels = []
    for row, name in enumerate(rows):
        stats = view.constants[name]
        color, marker, symbol = CONSTANT_STYLE[name]
        note = stats.note()
        labels.append(f"{symbol}" + (f"\n({note})" if note else ""))
        if stats.determined:
            fill = "full" if stats.n == stats.of else "bottom"
            strip.errorbar(
                [stats.mean],
                [row],
                xerr=[[stats.mean - stats.min], [stats.max - stats.mean]],
                color=color,
                marker=marker,
                ms=8,
                fillstyle=fill,
                markerfacecoloralt="white",
                capsize=4,
                lw=1.6,
                zorder=5,
                gid=name,
            )
            strip.annotate(
                f"{stats.mean:.3g}",
                (stats.mean, row),
                xytext=(0, 7),
                ha="center",
                textcoords="offset points",
                fontsize=8,
                color=color,
            )
        elif stats.lower_bounds:
            _lower_bound(
                strip,
                (stats.lower_bound, row),
                (min(stats.lower_bound * 1.3, high), row),
                marker,
                color,
                name,
                ms=8,
                lw=1.4,
            )
            strip.annotate(
                f"> {stats.lower_bound:.3g}",
                (stats.lower_bound, row),
                xytext=(7, 5),
                textcoords="offset points",
                fontsize=8,
                color=color,
            )
        else:
            strip.text(
                math.sqrt(low * high),
                row,
                "undetermined (no seed found it)",
                ha="center",
                va="center",
                fontsize=8,
                color=color,
                bbox=dict(facecolor="white", alpha=0.8, lw=0),
            )
    strip.set_yticks(range(len(rows)), labels=labels, fontsize=8)
    strip.set_ylim(-0.6, len(rows) - 0.4)
    _references(strip, "x")
    _c_axis(strip, low, high, axis="x")
    strip.set_xlabel(r"$c = \eta\,\lambda_0$   (log$_2$ scale)")

    figure.legend(
        handles=[*ratio_handles, *_phase_handles(not_probed)],
        loc="outside right center",
        fontsize=8,
        framealpha=0.9,
    )
    seeds = len(view.summary.scans)
    figure.suptitle(
        f"phases: {describe(view.config, width=90)}\n{seeds} seed(s); constants: mean over "
        f"seeds, bars min–max; {protocol(view.config)}",
        fontsize=10,
    )
    return figure
