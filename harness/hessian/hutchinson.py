"""The trace of any ``SymmetricOperator`` from matrix-vector products: Hutchinson's estimator
and Hutch++ (Meyer, Musco, Musco & Woodruff 2021), each with its standard error.

Hutchinson: tr(A) ~ mean_i z_i^T A z_i over ``products`` Rademacher (or Gaussian) probes.
Hutch++ with the same budget m: a third of the products sketch the top range (Q = orth(A S),
S n x m/3), a third compute tr(Q^T A Q) exactly, the rest estimate the trace of the deflated
remainder (I - QQ^T) A (I - QQ^T) by Hutchinson. On a matrix whose trace sits in a few large
eigenvalues the error falls as 1/m instead of 1/sqrt(m). The standard error of Hutch++ is that
of its Hutchinson part (the sketched part is exact given Q).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from phasebench.errors import UsageError
from phasebench.hessian.linear import SymmetricOperator
from phasebench.hessian.vectors import probe_vectors

METHODS = ("hutchinson", "hutch++")


@dataclass(frozen=True)
class TraceEstimate:
    """``value`` +- ``error`` (one standard error; nan when it cannot be estimated), by
    ``method`` in ``products`` products."""

    value: float
    error: float
    products: int
    method: str


def _mean_and_error(samples: torch.Tensor) -> tuple[float, float]:
    count = samples.numel()
    mean = float(samples.mean())
    error = float(samples.std(correction=1)) / math.sqrt(count) if count > 1 else math.nan
    return mean, error


def _products(operator: SymmetricOperator, block: torch.Tensor) -> torch.Tensor:
    return operator.matmat(block.to(operator.dtype)).to(torch.float64)


def hutchinson(
    operator: SymmetricOperator,
    products: int = 30,
    *,
    distribution: str = "rademacher",
    seed: int = 0,
    generator: torch.Generator | None = None,
) -> TraceEstimate:
    """Hutchinson's trace estimate from ``products`` probes."""
    if generator is None:
        generator = torch.Generator().manual_seed(int(seed))
    before = operator.hvps
    z = probe_vectors(operator, products, distribution, generator).to(torch.float64)
    samples = (z * _products(operator, z)).sum(0)
    value, error = _mean_and_error(samples)
    return TraceEstimate(value, error, operator.hvps - before, "hutchinson")


def hutch_plus_plus(
    operator: SymmetricOperator,
    products: int = 30,
    *,
    distribution: str = "rademacher",
    seed: int = 0,
    generator: torch.Generator | None = None,
) -> TraceEstimate:
    """Hutch++'s trace estimate in ``products`` products (at least 3)."""
    if not isinstance(products, int) or products < 3:
        raise UsageError(f"Hutch++ needs at least 3 products, got {products!r}")
    if generator is None:
        generator = torch.Generator().manual_seed(int(seed))
    before = operator.hvps
    k = min(products // 3, int(operator.size))
    sketch = probe_vectors(operator, k, distribution, generator).to(torch.float64)
    q, _ = torch.linalg.qr(_products(operator, sketch))
    exact = float((q * _products(operator, q)).sum())
    rest = products - 2 * k
    g = probe_vectors(operator, rest, distribution, generator).to(torch.float64)
    g = g - q @ (q.T @ g)
    samples = (g * _products(operator, g)).sum(0)
    value, error = _mean_and_error(samples)
    return TraceEstimate(exact + value, error, operator.hvps - before, "hutch++")


def trace_estimate(
    operator: SymmetricOperator, products: int = 30, method: str = "hutch++", **kwargs
) -> TraceEstimate:
    """The trace by ``method`` (``hutchinson`` or ``hutch++``) in ``products`` products."""
    if method not in METHODS:
        raise UsageError(f"unknown trace method {method!r}; use {' or '.join(METHODS)}")
    estimate = hutch_plus_plus if method == "hutch++" else hutchinson
    return estimate(operator, products, **kwargs)
