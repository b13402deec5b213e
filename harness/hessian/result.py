"""What every sharpness estimator returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(frozen=True)
class SharpnessResult:
    """The top eigenvalue(s) of a Hessian and how they were obtained.

    ``eigenvalues``: the k eigenvalues found, best first (largest algebraic, or largest magnitude
    for ``power`` and for ``which="magnitude"``). ``eigenvectors``: a (k, n) tensor of unit
    vectors over the flattened parameters when asked for (``return_vectors=True``), else None.
    ``hvps``: Hessian-vector products the estimator used (backend calibration not included).
    ``converged``: every residual met the estimator's stopping rule. ``residuals``: the
    residual norms ||H v - lambda v|| of each pair (for Lanczos the Ritz residual). ``wall_time``:
    seconds. ``estimator``: the registered name. ``backend``: the HVP backend that computed it.
    """

    eigenvalues: tuple[float, ...]
    hvps: int
    converged: bool
    residuals: tuple[float, ...]
    wall_time: float
    estimator: str
    backend: str
    eigenvectors: torch.Tensor | None = None
    iterations: int = 0

    @property
    def lambda_max(self) -> float:
        """The first (top) eigenvalue: the sharpness."""
        return self.eigenvalues[0]

    def summary(self) -> dict[str, Any]:
        """A JSON-able dict of everything but the vectors."""
        return {
            "eigenvalues": list(self.eigenvalues),
            "hvps": self.hvps,
            "converged": self.converged,
            "residuals": list(self.residuals),
            "wall_time": self.wall_time,
            "estimator": self.estimator,
            "backend": self.backend,
            "iterations": self.iterations,
        }
