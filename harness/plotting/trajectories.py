"""Loss and sharpness trajectories of one scan: L_t / L_0 and lambda_t / lambda_0 against the
step t, one curve per c, coloured by log2 c. A diverged run is drawn up to its divergence,
dashed, and marked with a red cross (on the top edge when its value is off the scale)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from phasebench.analysis.labels import c_label, unit_of
from phasebench.plotting.points import describe, protocol
from phasebench.plotting.style import (
    DIVERGED_COLOR,
    NOTE_COLOR,
    RATIO_ONE_COLOR,
    TRAJECTORY_CMAP,
    new_figure,
    plain_log_axis,
)

#: A curve above this many times the largest non-diverged value is off the scale.
HEADROOM = 5.0


def _ratio(values: np.ndarray, reference: float) -> np.ndarray:
    return np.asarray(values, dtype=float) / reference


def _drawn(run: Mapping[str, Any], values: np.ndarray) -> np.ndarray:
    """The steps a run is drawn over: up to its divergence (inclusive), finite values only."""
    t = np.arange(values.size, dtype=float)
    last = int(run["diverged_step"]) if run["diverged"] and run["diverged_step"] >= 0 else None
    keep = np.isfinite(values) & ((t <= last) if last is not None else True)
    return keep


def _limits(curves: list[tuple[np.ndarray, bool]], log: bool) -> tuple[float, float]:
    """y limits from the stable curves; diverged ones only widen them within HEADROOM."""
    stable = [v[np.isfinite(v)] for v, diverged in curves if not diverged]
    stable = [v for v in stable if v.size]
    every = [v[np.isfinite(v)] for v, _ in curves]
    every = [v for v in every if v.size]
    if not every:
        return (0.5, 2.0) if log else (0.0, 2.0)
    pool = np.concatenate(stable) if stable else np.concatenate(every)
    allv = np.concatenate(every)
    if log:
        positive = allv[allv > 0]
        low = float(positive.min()) / 1.5 if positive.size else 1e-3
        high = float(pool.max())
        top = min(float(allv.max()), high * HEADROOM) if stable else high
        return min(low, 0.8), max(top * 1.5, 1.25)
    low, high = float(pool.min()), float(pool.max())
    top = min(float(allv.max()), high + (high - low) * HEADROOM) if stable else high
    span = max(top - low, 1e-3)
    return min(low - 0.05 * span, 0.95), max(top + 0.08 * span, 1.05)


def _wants_log(curves: list[tuple[np.ndarray, bool]]) -> bool:
    values = np.concatenate([v[np.isfinite(v)] for v, _ in curves] or [np.ones(1)])
    if values.size == 0 or np.any(values <= 0):
        return False
    return float(values.max() / values.min()) > 10.0


def _panel(
    ax: Axes,
    runs: list[Mapping[str, Any]],
    key: str,
    reference: float,
    color_of,
    ylabel: str,
    force_log: bool | None = None,
    mark_step: bool = False,
) -> None:
    curves = [(_ratio(run[key], reference), bool(run["diverged"])) for run in runs]
    log = _wants_log(curves) if force_log is None else force_log
    if log:
        ax.set_yscale("log")
    low, high = _limits(curves, log)
    for run, (values, diverged) in zip(runs, curves, strict=True):
        keep = _drawn(run, values)
        t = np.arange(values.size)[keep]
        y = values[keep]
        color = color_of(run["c"])
        ax.plot(
            t,
            y,
            color=color,
            lw=1.4 if not diverged else 1.1,
            ls="--" if diverged else "-",
            marker="." if t.size < 3 else None,
            label=f"c={run['c']:.3g}",
            gid=f"c={run['c']!r}",
        )
        if diverged:
            step = int(run["diverged_step"])
            value = values[step] if 0 <= step < values.size else math.nan
            if mark_step and step >= 0:  # the divergent value, or the top edge when off scale
                at_t, at_y = step, value if math.isfinite(value) else high
            elif t.size:  # not measured at the divergence: the last value drawn
                at_t, at_y = t[-1], y[-1]
            else:
                at_t, at_y = float(max(step, 0)), high
            ax.plot(
                [at_t],
                [min(at_y, high)],
                marker="X",
                color=DIVERGED_COLOR,
                ms=8,
                ls="none",
                markeredgecolor="white",
                markeredgewidth=0.6,
                clip_on=False,
                zorder=5,
                gid="diverged",
            )
    ax.set_ylim(low, high)
    if log:
        plain_log_axis(ax)
    ax.axhline(1.0, color=RATIO_ONE_COLOR, lw=0.9, ls=":", zorder=1)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.25)
    steps = max((np.asarray(run[key]).size for run in runs), default=1) - 1
    ax.set_xlim(-0.3, steps + 0.3)
    if steps <= 20:
        ax.set_xticks(range(0, steps + 1, 1 if steps <= 10 else 2))


def trajectory_figure(scan: Mapping[str, Any]) -> Figure:
    """The figure of one scan as ``phasebench.results.load`` returns it (``config``,
    ``lambda0``, ``loss0`` and ``runs``). Left: L_t / L_0 (log scale); right: lambda_t /
    lambda_0 (log scale when it spans more than a factor of 10). One line per c, the lines in
    increasing c; each line's ``gid`` is ``"c=<c>"``, the divergence markers' ``"diverged"``."""
    runs = sorted(scan["runs"].values(), key=lambda run: run["c"])
    config = scan["config"]
    figure = new_figure(11.0, 4.6)
    loss_ax, sharp_ax = figure.subplots(1, 2)
    cs = np.array([run["c"] for run in runs], dtype=float) if runs else np.ones(1)
    low, high = float(np.log2(cs.min())), float(np.log2(cs.max()))
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    norm = Normalize(low, high)
    cmap = colormaps[TRAJECTORY_CMAP]

    def color_of(c: float):
        return cmap(norm(math.log2(c)))

    _panel(
        loss_ax,
        runs,
        "loss",
        float(scan["loss0"]),
        color_of,
        r"$L_t \,/\, L_0$",
        force_log=True,
        mark_step=True,
    )
    _panel(
        sharp_ax,
        runs,
        "sharpness",
        float(scan["lambda0"]),
        color_of,
        r"$\lambda_t \,/\, \lambda_0$",
    )
    loss_ax.set_title("loss on the fixed loss batch", fontsize=10)
    sharp_ax.set_title("sharpness (top Hessian eigenvalue)", fontsize=10)
    if not runs:
        for ax in (loss_ax, sharp_ax):
            ax.text(0.5, 0.5, "no finished runs", transform=ax.transAxes, ha="center")

    bar = figure.colorbar(
        ScalarMappable(norm, cmap), ax=[loss_ax, sharp_ax], pad=0.01, fraction=0.04
    )
    ticks = np.arange(math.ceil(low), math.floor(high) + 1)
    if ticks.size >= 2:
        bar.set_ticks(ticks, labels=[f"{2.0**x:g}" for x in ticks])
    bar.set_label(f"{c_label(unit_of(config), tex=True)}  (log$_2$ scale)")

    diverged = sum(bool(run["diverged"]) for run in runs)
    handles = [Line2D([], [], color=RATIO_ONE_COLOR, ls=":", label="initial value (ratio 1)")]
    if diverged:
        handles.append(
            Line2D(
                [],
                [],
                color=NOTE_COLOR,
                ls="--",
                marker="X",
                markerfacecolor=DIVERGED_COLOR,
                markeredgecolor=DIVERGED_COLOR,
                label=f"diverged ({diverged} run{'s' * (diverged != 1)}), drawn to divergence",
            )
        )
    figure.legend(
        handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False
    )
    figure.suptitle(
        f"{describe(config)}\nseed {config.get('seed')}, SGD seed {config.get('sgd_seed')}: "
        f"$\\lambda_0$ = {float(scan['lambda0']):.4g}, $L_0$ = {float(scan['loss0']):.4g}, "
        f"{len(runs)} values of c; {protocol(config)}",
        fontsize=10,
    )
    return figure
