"""Spectral densities: the Gaussian-broadened SLQ density of the Hessian (or of the operator a
trace measures) against the eigenvalue, on a log y axis (the outliers carry mass 1/n), the top
eigenvalue (largest Ritz value) marked by a dashed line. One curve per density: a
``phasebench spectrum`` record, or each stored step of a run (``run --density-steps``) or of a
trace (``trace --density-steps``), coloured by step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from phasebench.hessian.quadrature import GRID_MARGIN, GRID_POINTS, RELATIVE_SIGMA, Quadrature
from phasebench.plotting.style import NOTE_COLOR, TRAJECTORY_CMAP, new_figure
from phasebench.plotting.trace_fields import get

#: The y axis shows this many decades below the densest point.
DECADES = 8.0


def run_quadratures(run: Mapping[str, Any] | Any) -> list[tuple[str, Quadrature]]:
    """(label, quadrature) of every density a run or a trace stored (``density_step``; a run
    as ``load`` returns it, or a ``TraceRecord``), skipping the steps with no weights (after a
    divergence; an adaptive optimizer's step 0)."""
    out = []
    steps = np.asarray(get(run, "density_step", ()))
    for i, step in enumerate(steps):
        weights = np.asarray(get(run, "density_weights")[i])
        if not (weights > 0).any():
            continue
        quadrature = Quadrature(get(run, "density_nodes")[i], weights, size=0)
        out.append((f"step {int(step)}", quadrature))
    return out


def spectrum_quadrature(spectrum: Mapping[str, Any]) -> Quadrature:
    """The quadrature of a stored ``SpectrumRecord`` (as ``load`` returns it)."""
    return Quadrature(
        spectrum["nodes"], spectrum["weights"], int(spectrum["parameters"]), int(spectrum["hvps"])
    )


def density_figure(
    curves: Sequence[tuple[str, Quadrature]], title: str, operator: str = "the Hessian"
) -> Figure:
    """The broadened densities of ``curves`` on one log-y axis, each top eigenvalue marked;
    ``operator`` names what they are the spectrum of, on the x axis."""
    figure = new_figure(6.4, 4.2)
    ax = figure.add_subplot()
    cmap = colormaps[TRAJECTORY_CMAP]
    low, high = np.inf, -np.inf
    peak = 0.0
    tops = [q.top for _, q in curves]
    bottoms = [q.bottom for _, q in curves]
    spread = max(tops) - min(bottoms) if curves else 0.0
    sigma = RELATIVE_SIGMA * spread if spread > 0 else None  # one width: curves compare
    grid = None
    if sigma is not None:
        grid = np.linspace(
            min(bottoms) - GRID_MARGIN * sigma, max(tops) + GRID_MARGIN * sigma, GRID_POINTS
        )
    for index, (label, quadrature) in enumerate(curves):
        color = cmap(index / max(len(curves) - 1, 1)) if len(curves) > 1 else "#1f5fbf"
        grid, rho = quadrature.density(grid, sigma)
        ax.plot(grid, rho, color=color, lw=1.4, label=label)
        ax.axvline(quadrature.top, color=color, lw=1.0, ls="--")
        ax.annotate(
            f"$\\lambda_{{max}}$ = {quadrature.top:.4g}",
            (quadrature.top, 0.98 - 0.06 * index),
            xycoords=("data", "axes fraction"),
            ha="right",
            va="top",
            fontsize=8,
            color=color,
        )
        low, high = min(low, grid[0]), max(high, grid[-1])
        peak = max(peak, float(rho.max()))
    ax.set_yscale("log")
    if peak > 0:
        ax.set_ylim(peak * 10.0**-DECADES, peak * 3.0)
    if np.isfinite(low):
        ax.set_xlim(low, high)
    ax.set_xlabel(f"eigenvalue $\\lambda$ of {operator}")
    ax.set_ylabel("spectral density (broadened SLQ)")
    ax.set_title(title, fontsize=9)
    if len(curves) > 1:
        ax.legend(fontsize=8, loc="upper center")
    shape = ", ".join(f"{q.probes}x{q.steps}" for _, q in curves[:1])
    width = f"; Gaussian broadening sigma = {sigma:.3g}" if sigma is not None else ""
    ax.text(
        0.01,
        0.01,
        f"probes x Lanczos steps: {shape}{width}",
        transform=ax.transAxes,
        fontsize=7,
        color=NOTE_COLOR,
    )
    return figure
