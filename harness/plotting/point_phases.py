"""One point's phases: the per-c max_t L_t / L_0 and max_t lambda_t / lambda_0 of every seed
over the shaded phase regions, and the critical constants as a strip over the same log2 c axis
(markers as in ``phase_diagram.py``)."""

from __future__ import annotations

import math
from math import nan

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from phasebench.analysis.labels import c_label, unit_of
from phasebench.analysis.phases import NAMES
from phasebench.plotting.phase_parts import c_axis, c_range, lower_bound, phase_handles, references
from phasebench.plotting.points import PointView, describe, protocol
from phasebench.plotting.style import (
    CONSTANT_STYLE,
    DIVERGED_COLOR,
    HATCH_EDGE,
    LOSS_COLOR,
    NOT_PROBED,
    PHASES,
    RATIO_ONE_COLOR,
    SHARPNESS_COLOR,
    new_figure,
    plain_log_axis,
)


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
                edgecolor=HATCH_EDGE,
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
    low, high = c_range([view])
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
        for key, color, marker, ratio in (
            ("loss", LOSS_COLOR, "o", lambda r: r.loss_ratio_max),
            # an unmeasured sharpness is a gap in its line, never a value
            ("sharpness", SHARPNESS_COLOR, "s", lambda r: r.sharp_ratio_max if r.measured else nan),
        ):
            top.plot(
                cs,
                [ratio(r) for r in stable],
                color=color,
                marker=marker,
                ms=4,
                lw=1.4,
                alpha=alpha,
                gid=f"{key} {tag}",
            )
    ratio_handles += [
        Line2D([], [], color=LOSS_COLOR, marker="o", ms=4, label=r"$\max_t\, L_t / L_0$"),
        Line2D(
            [],
            [],
            color=SHARPNESS_COLOR,
            marker="s",
            ms=4,
            label=r"$\max_t\, \lambda_t / \lambda_0$",
        ),
        Line2D(
            [],
            [],
            color=RATIO_ONE_COLOR,
            ls=":",
            label="ratio 1" + "".join(f" (and 1 + ε = {1 + eps:g})" for eps in epsilons),
        ),
    ]
    top.set_yscale("log")
    top.axhline(1.0, color=RATIO_ONE_COLOR, ls=":", lw=1.0, zorder=2)
    for eps in epsilons:
        top.axhline(1.0 + eps, color=SHARPNESS_COLOR, ls=":", lw=0.8, zorder=2)
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
    references(top, "x")

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
        elif stats.bounded:
            lower_bound(
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
    references(strip, "x")
    c_axis(strip, low, high, axis="x")
    strip.set_xlabel(f"{c_label(unit_of(view.config), tex=True)}   (log$_2$ scale)")

    figure.legend(
        handles=[*ratio_handles, *phase_handles(not_probed)],
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
