"""The regimes of many traces over c: the step each regime starts, the saturation sharpness
(relative to lambda0) and the edge-of-stability level (mean ± spread of lambda / threshold,
which is lambda eta / 2 for SGD), one series per configuration (a sweep's depth x width)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter

from phasebench.plotting import trace_fields as fields
from phasebench.plotting.style import (
    NOTE_COLOR,
    RATIO_ONE_COLOR,
    REGIME_COLOR,
    REGIMES,
    new_figure,
    plain_log_axis,
)

#: One line style and marker per series (a configuration), repeating past four.
SERIES_STYLES = (("-", "o"), ("--", "s"), (":", "D"), ("-.", "^"))


def _by_c(traces: Sequence[Any]) -> list[Any]:
    return sorted(traces, key=lambda trace: float(fields.get(trace, "c", np.nan)))


def _log2_c_axis(ax: Axes, cs: np.ndarray) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("c = eta lambda0")
    if cs.size:
        ax.set_xlim(float(cs.min()) / 1.3, float(cs.max()) * 1.3)
        ticks = np.unique(cs)
        ax.set_xticks(ticks if ticks.size <= 12 else ticks[:: int(np.ceil(ticks.size / 12))])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def _draw(ax: Axes, points: list[tuple[float, float, float]], style, color, gid: str) -> None:
    """Each trace's value as a marker (with its error bar when it has one), and a line through
    the mean over the seeds at each c."""
    if not points:
        return
    ls, marker = style
    cs, values, errors = (np.array(v, dtype=float) for v in zip(*points, strict=True))
    if np.isfinite(errors).any():
        ax.errorbar(
            cs,
            values,
            yerr=np.nan_to_num(errors),
            ls="none",
            marker=marker,
            ms=5,
            capsize=3,
            color=color,
            alpha=0.85,
            gid=gid,
        )
    else:
        ax.plot(cs, values, ls="none", marker=marker, ms=5, color=color, alpha=0.85, gid=gid)
    order = np.unique(cs)
    means = [float(values[cs == c].mean()) for c in order]
    ax.plot(order, means, ls=ls, lw=1.0, color=color)


def _starts(ax: Axes, traces: list[Any], style: tuple[str, str], label: str) -> None:
    for name, _, color in REGIMES:
        points = []
        for trace in traces:
            regime = fields.regimes(trace).first(name)
            if regime is not None:
                points.append((float(fields.get(trace, "c")), regime.start + 1.0, np.nan))
        _draw(ax, points, style, color, f"start={name}{'|' + label if label else ''}")


def _saturation(ax: Axes, traces: list[Any], style: tuple[str, str], label: str) -> None:
    points = [(float(fields.get(t, "c")), fields.saturation_sharpness(t), np.nan) for t in traces]
    points = [p for p in points if np.isfinite(p[1])]
    gid = f"saturation{'|' + label if label else ''}"
    _draw(ax, points, style, REGIME_COLOR["saturation"], gid)


def _eos(ax: Axes, traces: list[Any], style: tuple[str, str], label: str) -> None:
    points = []
    for trace in traces:
        eos = fields.regimes(trace).eos
        if eos.get("measurements"):
            points.append((float(fields.get(trace, "c")), eos["mean"], eos["spread"]))
    gid = f"eos{'|' + label if label else ''}"
    _draw(ax, points, style, REGIME_COLOR["edge-of-stability"], gid)


def _empty_note(ax: Axes, has_data: bool, what: str) -> None:
    if not has_data:
        ax.text(
            0.5,
            0.5,
            f"no {what}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color=NOTE_COLOR,
            fontsize=9,
        )


def trace_summary_figure(traces: Sequence[Any]) -> Figure:
    """Three panels over c for ``traces`` (records or mappings of TraceRecord fields): the step
    each regime starts (log scale, step + 1), the saturation sharpness lambda_sat / lambda0, and
    the EoS level with its spread (1 = at the threshold). Series (line style and marker) are the
    configurations that differ in more than c and the seeds; each seed is its own point."""
    groups = fields.series(traces)
    figure = new_figure(13.5, 4.4)
    start_ax, sat_ax, eos_ax = figure.subplots(1, 3)
    for i, (label, members) in enumerate(groups):
        style = SERIES_STYLES[i % len(SERIES_STYLES)]
        members = _by_c(members)
        _starts(start_ax, members, style, label)
        _saturation(sat_ax, members, style, label)
        _eos(eos_ax, members, style, label)
    cs = np.array([float(fields.get(t, "c")) for t in traces], dtype=float)
    for ax in (start_ax, sat_ax, eos_ax):
        _log2_c_axis(ax, cs[np.isfinite(cs) & (cs > 0)])
        ax.grid(True, which="major", alpha=0.25)
    start_ax.set_yscale("log")
    start_ax.set_ylabel("the regime starts at step + 1")
    start_ax.set_title("when each regime starts", fontsize=9)
    start_ax.legend(
        [Line2D([], [], color=color, marker="o", ls="-") for _, _, color in REGIMES],
        [name for name, _, _ in REGIMES],
        fontsize=7,
        loc="best",
    )
    sat_ax.set_ylabel(r"$\lambda_{sat} / \lambda_0$ (median)")
    sat_ax.set_title("saturation sharpness", fontsize=9)
    saturated = np.array([fields.saturation_sharpness(t) for t in traces])
    saturated = saturated[np.isfinite(saturated) & (saturated > 0)]
    if saturated.size and saturated.max() / saturated.min() > 10:
        sat_ax.set_yscale("log")
        plain_log_axis(sat_ax)
    eos_ax.axhline(1.0, color=RATIO_ONE_COLOR, lw=0.9, ls=":")
    eos_ax.set_ylabel("lambda / threshold (EoS mean ± spread)")
    eos_ax.set_title("edge-of-stability level", fontsize=9)
    _empty_note(start_ax, any(fields.regimes(t).regimes for t in traces), "regime labelled")
    _empty_note(
        sat_ax, any(np.isfinite(fields.saturation_sharpness(t)) for t in traces), "saturation"
    )
    _empty_note(eos_ax, any(fields.regimes(t).eos for t in traces), "edge of stability")
    if len(groups) > 1:
        handles = [
            Line2D([], [], color=NOTE_COLOR, ls=ls, marker=marker)
            for (ls, marker), _ in zip(SERIES_STYLES * len(groups), groups, strict=False)
        ]
        figure.legend(
            handles,
            [label for label, _ in groups],
            loc="outside lower center",
            ncols=min(len(groups), 4),
            fontsize=8,
        )
    return figure
