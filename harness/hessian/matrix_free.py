"""``ProductOperator``: what every curvature operator shares besides its product.

A subclass sets ``size``, ``dtype``, ``device`` and ``hvps = 0`` and implements ``_product(v)``
(one product on a flat vector in the operator's dtype and device, uncounted). This base gives
it the rest of what the estimators use, so power, Lanczos, exact and a third party's estimator
run on it unchanged: ``matvec`` (shape check, cast, counted), ``matmat`` (column by column, m
products), ``dense()`` (n products, float64, symmetrized), ``random_vector(generator)``,
``gradient()`` (what Lanczos's ``start="gradient"`` seeds with; a subclass names its own),
``@``, ``as_scipy()`` and ``as_function()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from phasebench.errors import UsageError
from phasebench.hessian.linear import dense_matrix


class ProductOperator:
    """A symmetric operator over flat vectors defined by ``_product``; products are counted."""

    size: int
    dtype: torch.dtype
    device: torch.device
    hvps: int = 0

    def _product(self, v: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """A v for a flat vector ``v`` of length ``size``; one product."""
        if v.shape != (self.size,):
            raise UsageError(f"vector of shape {tuple(v.shape)}; the operator needs ({self.size},)")
        out = self._product(v.to(device=self.device, dtype=self.dtype))
        self.hvps += 1
        return out

    def matmat(self, block: torch.Tensor) -> torch.Tensor:
        """A V for an ``(size, m)`` block: m products, each exactly ``matvec`` of its column."""
        if block.ndim != 2 or block.shape[0] != self.size:
            raise UsageError(
                f"a block of shape {tuple(block.shape)}; the operator needs ({self.size}, m)"
            )
        columns = [self.matvec(block[:, j]) for j in range(block.shape[1])]
        if not columns:
            return block.new_zeros(self.size, 0, dtype=self.dtype, device=self.device)
        return torch.stack(columns, dim=1)

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        return self.matmat(x) if x.ndim == 2 else self.matvec(x)

    def as_function(self) -> Callable[[torch.Tensor], torch.Tensor]:
        from phasebench.hessian.linear import to_function

        return to_function(self)

    def as_scipy(self) -> Any:
        from phasebench.hessian.linear import to_scipy

        return to_scipy(self)

    def random_vector(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """A unit Gaussian vector (drawn on the CPU from ``generator``, moved once)."""
        v = torch.randn(self.size, generator=generator, dtype=torch.float64)
        v = v.to(device=self.device, dtype=self.dtype)
        return v / v.double().norm().to(self.dtype)

    def gradient(self) -> torch.Tensor:
        """A start direction for Lanczos; zero here (Lanczos then starts from a Gaussian)."""
        return torch.zeros(self.size, dtype=self.dtype, device=self.device)

    def dense(self) -> torch.Tensor:
        """The full n x n matrix in float64, column by column (n products, all counted)."""
        return dense_matrix(self)


class ShiftedOperator(ProductOperator):
    """``shift * I - A``: with ``shift`` >= lambda_max(A), its top eigenvalue is
    ``shift - lambda_min(A)``, so any estimator of the largest eigenvalue finds the smallest
    eigenvalue of A (shifted power iteration), converging relative to the spread of the
    spectrum rather than to |lambda_min| (which may be 0)."""

    def __init__(self, inner: Any, shift: float) -> None:
        self.inner, self.shift = inner, float(shift)
        self.size, self.dtype, self.device = inner.size, inner.dtype, inner.device
        self.backend = str(getattr(inner, "backend", ""))
        self.hvps = 0

    def _product(self, v: torch.Tensor) -> torch.Tensor:
        return self.shift * v - self.inner.matvec(v)
