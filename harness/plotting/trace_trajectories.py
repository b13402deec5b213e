"""One trace on a log step axis: the top eigenvalue with the stability threshold in force
(2 / eta_t, ...) above (and, where the trace measured them, each layer's sharpness as one thin
curve per layer and the critical sharpness), the loss below, the smallest eigenvalue in a third
panel where measured, and the regimes (``phasebench.analysis.regimes``) shaded behind all. The
x axis is step + 1, so the initialization (step 0) is on it."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from phasebench.analysis.labels import describe
from phasebench.plotting import trace_fields as fields
from phasebench.plotting.style import (
    CRITICAL_COLOR,
    DIVERGED_COLOR,
    LAYER_CMAP,
    LOSS_COLOR,
    NOTE_COLOR,
    PATCH_EDGE,
    REGIME_SHADE,
    REGIMES,
    SHARPNESS_COLOR,
    SMALLEST_COLOR,
    THRESHOLD_COLOR,
    TRAIN_LOSS_COLOR,
    new_figure,
    plain_log_axis,
)


def _shade(ax: Axes, trace: Any) -> list[str]:
    """The regimes as spans from their first measured step to the measurement after their
    last (a regime holds until the next measurement says otherwise); their names."""
    drawn = []
    step = np.asarray(fields.get(trace, "measured_step"), dtype=float)
    for regime in fields.regimes(trace).regimes:
        later = step[step > regime.end]
        ax.axvspan(
            regime.start + 1,
            (later.min() if later.size else regime.end) + 1,
            color=REGIME_SHADE.get(regime.name, "#eeeeee"),
            lw=0,
            zorder=0,
            gid=f"regime={regime.name}",
        )
        drawn.append(regime.name)
    return drawn


def _positive(values: np.ndarray) -> np.ndarray:
    return np.isfinite(values) & (values > 0)


def _sharpness_panel(ax: Axes, trace: Any, x: np.ndarray) -> None:
    sharp, ok = fields.top_sharpness(trace), fields.measured(trace)
    ax.plot(x[ok], sharp[ok], color=SHARPNESS_COLOR, lw=1.2, label=r"$\lambda_t$", gid="sharpness")
    bad = ~ok & _positive(sharp)
    if bad.any():  # not converged: shown, never trusted
        ax.plot(
            x[bad],
            sharp[bad],
            ls="none",
            marker="x",
            ms=4,
            color=NOTE_COLOR,
            label="not converged",
            gid="unconverged",
        )
    threshold = np.asarray(fields.get(trace, "threshold", np.full(x.size, np.nan)), dtype=float)
    defined = _positive(threshold)
    kind = fields.get(trace, "threshold_kind") or "threshold"
    if defined.any():
        ax.plot(
            x[defined],
            threshold[defined],
            color=THRESHOLD_COLOR,
            lw=1.0,
            ls="--",
            label=kind,
            gid="threshold",
        )
    else:
        ax.text(
            0.01,
            0.97,
            f"the stability threshold is not defined here ({kind})",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color=NOTE_COLOR,
        )
    positive = _positive(sharp).any() or defined.any()
    positive = _curvature_curves(ax, trace, x) or positive
    operator = (fields.get(trace, "provenance") or {}).get("operator", "hessian")
    ax.set_ylabel(
        "top eigenvalue of P^-1 H"
        if operator == "preconditioned"
        else "top eigenvalue of the Hessian"
    )
    if positive:
        ax.set_yscale("log")
        plain_log_axis(ax)


def _curvature_curves(ax: Axes, trace: Any, x: np.ndarray) -> bool:
    """Each layer's sharpness (one thin curve per layer, ``gid`` ``layer=<name>``) and the
    critical sharpness (``critical``), where measured; whether any positive value was drawn."""
    drawn = False
    layers = np.asarray(fields.get(trace, "layer_sharpness", np.zeros((0, 0))), dtype=float)
    names = list(fields.get(trace, "layers") or [])
    if layers.ndim == 2 and layers.size and layers.shape[1] == len(names):
        cmap = colormaps[LAYER_CMAP]
        for j, name in enumerate(names):
            keep = _positive(layers[:, j])
            color = cmap(j / max(len(names) - 1, 1))
            ax.plot(x[keep], layers[keep, j], color=color, lw=0.8, alpha=0.9,
                    label=f"layer {name}", gid=f"layer={name}")  # fmt: skip
            drawn = drawn or bool(keep.any())
    critical = np.asarray(fields.get(trace, "critical_sharpness", np.zeros(0)), dtype=float)
    if critical.size == x.size and critical.size:
        ok = np.asarray(fields.get(trace, "critical_converged", np.ones(x.size, bool)), bool)
        keep = _positive(critical) & ok
        ax.plot(x[keep], critical[keep], color=CRITICAL_COLOR, lw=1.0, ls="-.",
                label=r"$\lambda_c = 2/\eta_c$", gid="critical")  # fmt: skip
        drawn = drawn or bool(keep.any())
    return drawn


def _smallest(trace: Any, size: int) -> np.ndarray | None:
    smallest = np.asarray(fields.get(trace, "smallest", np.zeros(0)), dtype=float)
    return smallest if smallest.size == size and size else None


def _smallest_panel(ax: Axes, smallest: np.ndarray, x: np.ndarray) -> None:
    """The smallest eigenvalue (negative curvature) on a linear axis, 0 marked."""
    keep = np.isfinite(smallest)
    ax.axhline(0.0, color=NOTE_COLOR, lw=0.6, ls=":")
    ax.plot(x[keep], smallest[keep], color=SMALLEST_COLOR, lw=1.1, marker=".", ms=3,
            label=r"$\lambda_{min}$", gid="smallest")  # fmt: skip
    ax.set_ylabel("smallest eigenvalue")


def _loss_panel(ax: Axes, trace: Any, x: np.ndarray) -> None:
    loss = np.asarray(fields.get(trace, "loss", np.full(x.size, np.nan)), dtype=float)
    train = fields.get(trace, "train_loss")
    if train is not None:
        train = np.asarray(train, dtype=float)
        keep = _positive(train)
        ax.plot(
            x[keep],
            train[keep],
            color=TRAIN_LOSS_COLOR,
            lw=0.8,
            label="training loss",
            gid="train_loss",
        )
    keep = _positive(loss)
    ax.plot(x[keep], loss[keep], color=LOSS_COLOR, lw=1.3, label="loss (fixed batch)", gid="loss")
    if keep.any():
        ax.set_yscale("log")
        plain_log_axis(ax)
    ax.set_ylabel("loss")


def _mark_divergence(axes: list[Axes], trace: Any) -> None:
    if not fields.get(trace, "diverged", False):
        return
    step = int(fields.get(trace, "diverged_step", -1))
    for ax in axes:
        ax.axvline(max(step, 0) + 1, color=DIVERGED_COLOR, lw=1.0, ls=":", gid="diverged")
    axes[0].text(
        max(step, 0) + 1,
        1.0,
        f" diverged at step {step}",
        color=DIVERGED_COLOR,
        transform=axes[0].get_xaxis_transform(),
        va="bottom",
        fontsize=8,
    )


def _title(trace: Any) -> str:
    config = fields.get(trace, "config") or {}
    c, eta = fields.get(trace, "c"), fields.get(trace, "eta")
    head = f"c = {c:g}, eta = {eta:.3g}" if c is not None and eta is not None else "trace"
    seeds = f"seed {config.get('seed', '?')}, SGD seed {config.get('sgd_seed', '?')}"
    eos = fields.regimes(trace).eos
    level = (
        f" · EoS: lambda/threshold {eos['mean']:.3f} ± {eos['spread']:.3f}"
        if eos.get("measurements")
        else ""
    )
    body = describe(config) if config.get("model") else ""
    return f"{body}\n{head} · {seeds}{level}".strip()


def trace_figure(trace: Any) -> Figure:
    """The figure of one trace (a ``TraceRecord`` or a mapping of its fields): the top
    eigenvalue (unconverged ones as grey crosses) and the threshold line above, the loss on the
    fixed batch and the training loss below, regimes shaded, a divergence marked. Artists carry
    ``gid``s: ``sharpness``, ``threshold``, ``loss``, ``train_loss``, ``regime=<name>``, and where
    measured ``layer=<name>``, ``critical`` and (a third panel) ``smallest``."""
    step = np.asarray(fields.get(trace, "measured_step"), dtype=float)
    x = step + 1.0
    smallest = _smallest(trace, x.size)
    if smallest is None:
        figure = new_figure(8.5, 6.6)
        sharp_ax, loss_ax = figure.subplots(2, 1, sharex=True)
        panels = [sharp_ax, loss_ax]
    else:  # the smallest eigenvalue below, in a shorter panel
        figure = new_figure(8.5, 8.4)
        panels = list(figure.subplots(3, 1, sharex=True, height_ratios=(3, 3, 2)))
        sharp_ax, loss_ax = panels[:2]
    names = []
    for ax in panels:
        names = _shade(ax, trace)
    _sharpness_panel(sharp_ax, trace, x)
    _loss_panel(loss_ax, trace, x)
    if smallest is not None:
        _smallest_panel(panels[2], smallest, x)
    _mark_divergence(panels, trace)
    for ax in panels:
        ax.set_xscale("log")
        ax.grid(True, which="major", alpha=0.25)
    if x.size:
        panels[-1].set_xlim(max(float(np.nanmin(x)), 1.0) / 1.2, float(np.nanmax(x)) * 1.2)
        plain_log_axis(panels[-1], "x")
    panels[-1].set_xlabel("step + 1")
    patches = [
        Patch(facecolor=REGIME_SHADE[name], edgecolor=PATCH_EDGE, lw=0.5, label=name)
        for name, _, _ in REGIMES
        if name in names
    ]
    handles, labels = sharp_ax.get_legend_handles_labels()
    sharp_ax.legend(
        handles + patches,
        labels + [p.get_label() for p in patches],
        fontsize=8,
        loc="best",
        framealpha=0.9,
    )
    if not patches:
        sharp_ax.text(
            0.99,
            0.03,
            "no regime labelled",
            transform=sharp_ax.transAxes,
            ha="right",
            fontsize=8,
            color=NOTE_COLOR,
        )
    loss_ax.legend(fontsize=8, loc="best", framealpha=0.9)
    if smallest is not None:
        panels[2].legend(fontsize=8, loc="best", framealpha=0.9)
    figure.suptitle(_title(trace), fontsize=9)
    return figure
