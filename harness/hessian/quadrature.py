"""``Quadrature``: the nodes and weights stochastic Lanczos quadrature found, and what follows
from them (the spectral density on a grid, its moments, the trace, the top eigenvalue).

NumPy only, no torch: ``phasebench plot`` rebuilds one from a results file and draws it.

For probe p (a unit vector v_p) and the m x m Lanczos tridiagonal T_p = S diag(theta) S^T, the
quadrature of the spectral measure of v_p is sum_i w_pi delta(x - theta_pi) with the nodes
theta_pi the Ritz values and the weights w_pi = S[0, i]^2 (the squared FIRST COMPONENTS of
T's eigenvectors: the first row of S, not its columns, nor the whole of S squared). Each row of
weights sums to 1. The density estimate is the mean over the probes; since E[(u^T v)^2] = 1/n
for any unit eigenvector u, it estimates (1/n) sum_j delta(x - lambda_j), which integrates to 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The default width of the Gaussian broadening, as a fraction of the nodes' range.
RELATIVE_SIGMA = 0.01
#: Default grid size and how many widths the grid reaches past the outermost nodes.
GRID_POINTS = 2001
GRID_MARGIN = 5.0


@dataclass(frozen=True)
class Quadrature:
    """SLQ's quadrature: ``nodes`` and ``weights`` of shape (probes, m), nan / 0 past a probe's
    breakdown (its Krylov space ran out before m steps); ``size`` the operator's n; ``hvps``
    the products spent; ``distribution`` of the probes."""

    nodes: np.ndarray
    weights: np.ndarray
    size: int
    hvps: int = 0
    distribution: str = "rademacher"

    def __post_init__(self) -> None:
        nodes, weights = np.asarray(self.nodes, float), np.asarray(self.weights, float)
        if nodes.ndim != 2 or nodes.shape != weights.shape:
            raise ValueError(
                f"nodes {nodes.shape} and weights {weights.shape} must be two equal (probes, m)"
            )
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "weights", weights)

    @property
    def probes(self) -> int:
        return int(self.nodes.shape[0])

    @property
    def steps(self) -> int:
        return int(self.nodes.shape[1])

    def _valid(self) -> np.ndarray:
        return np.isfinite(self.nodes) & (self.weights > 0)

    def per_probe_moment(self, k: int) -> np.ndarray:
        """(probes,) sum_i w_pi theta_pi^k: probe p's estimate of (1/n) tr(A^k)."""
        valid = self._valid()
        return np.where(valid, self.weights * np.where(valid, self.nodes, 0.0) ** k, 0.0).sum(1)

    def moment(self, k: int) -> float:
        """The estimate of (1/n) tr(A^k) (k = 0 is the total mass: 1)."""
        return float(self.per_probe_moment(k).mean())

    @property
    def trace(self) -> float:
        """n times the first moment: the trace of A (for Rademacher probes exactly
        Hutchinson's estimate on the same probes, since theta-weights' mean is T[0, 0])."""
        return self.size * self.moment(1)

    @property
    def trace_error(self) -> float:
        """The standard error of ``trace`` over the probes (nan with one probe)."""
        if self.probes < 2:
            return math.nan
        values = self.size * self.per_probe_moment(1)
        return float(values.std(ddof=1) / math.sqrt(self.probes))

    @property
    def top(self) -> float:
        """The largest Ritz value: an estimate (from below) of the top eigenvalue."""
        finite = self.nodes[np.isfinite(self.nodes)]
        return float(finite.max()) if finite.size else math.nan

    @property
    def bottom(self) -> float:
        """The smallest Ritz value: an estimate (from above) of the smallest eigenvalue."""
        finite = self.nodes[np.isfinite(self.nodes)]
        return float(finite.min()) if finite.size else math.nan

    def default_sigma(self) -> float:
        spread = self.top - self.bottom
        if not math.isfinite(spread):
            return math.nan
        if spread > 0:
            return RELATIVE_SIGMA * spread
        return RELATIVE_SIGMA * max(abs(self.top), 1.0)

    def grid(self, sigma: float | None = None, points: int = GRID_POINTS) -> np.ndarray:
        """An even grid from the smallest node to the largest, ``GRID_MARGIN`` widths past
        each, so the broadened density integrates to 1 on it."""
        sigma = self.default_sigma() if sigma is None else float(sigma)
        return np.linspace(
            self.bottom - GRID_MARGIN * sigma, self.top + GRID_MARGIN * sigma, int(points)
        )

    def density(
        self, grid: np.ndarray | None = None, sigma: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(grid, rho): the mean over probes of sum_i w_pi N(x; theta_pi, sigma^2) on the grid
        (default: ``grid(sigma)``); sigma defaults to ``RELATIVE_SIGMA`` of the nodes' range."""
        sigma = self.default_sigma() if sigma is None else float(sigma)
        if not sigma > 0:
            raise ValueError(f"the broadening width must be positive, got {sigma}")
        x = self.grid(sigma) if grid is None else np.asarray(grid, float)
        valid = self._valid()
        nodes, weights = self.nodes[valid], self.weights[valid]
        rho = np.zeros_like(x)
        for start in range(0, nodes.size, 256):  # bounded memory: grid x 256 at a time
            z = (x[:, None] - nodes[None, start : start + 256]) / sigma
            rho += (np.exp(-0.5 * z * z) * weights[None, start : start + 256]).sum(1)
        return x, rho / (self.probes * sigma * math.sqrt(2 * math.pi))

    def mass(self, low: float, high: float) -> float:
        """The quadrature's mass on [low, high]: the fraction of eigenvalues there."""
        valid = self._valid() & (self.nodes >= low) & (self.nodes <= high)
        return float(np.where(valid, self.weights, 0.0).sum() / self.probes)
