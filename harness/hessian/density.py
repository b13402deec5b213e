"""The spectral density of any ``SymmetricOperator`` by stochastic Lanczos quadrature (SLQ;
Lin, Saad & Yang 2016; Ghorbani, Krishnan & Xiao 2019).

``slq(operator, probes, steps)`` runs ``steps`` Lanczos steps with full reorthogonalization
from each of ``probes`` random unit vectors (Rademacher or Gaussian, from a seeded generator),
keeps alpha, beta and the Lanczos basis in float64, solves each tridiagonal with ``eigh``
(symmetric: real Ritz values; PyHessian once used the general ``eig`` and squared the whole
eigenvector matrix instead of its first row) and returns the ``Quadrature`` (nodes = Ritz
values, weights = squared first components). ``spectral_density(model, loss, ...)`` is the
same on the Hessian (or, through ``operator=``, on any operator a caller built).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from phasebench.errors import UsageError
from phasebench.hessian.linear import SymmetricOperator
from phasebench.hessian.quadrature import Quadrature
from phasebench.hessian.vectors import probe_vectors

#: Defaults: probe vectors and Lanczos steps per probe (products: probes x steps).
PROBES = 5
STEPS = 50


def lanczos_tridiagonal(
    operator: SymmetricOperator, start: torch.Tensor, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """(alpha (j,), beta (j - 1,)) of ``j <= steps`` Lanczos steps from ``start`` with full
    reorthogonalization (twice, classical Gram-Schmidt against every earlier vector) in
    float64; stops early (j < steps) when the Krylov space is exhausted (beta ~ 0)."""
    n = int(operator.size)
    steps = min(int(steps), n)
    basis = torch.zeros(steps, n, dtype=torch.float64, device=operator.device)
    q = start.to(torch.float64)
    basis[0] = q / q.norm()
    alphas: list[float] = []
    betas: list[float] = []
    eps = torch.finfo(operator.dtype).eps
    for j in range(steps):
        w = operator.matvec(basis[j].to(operator.dtype)).to(torch.float64)
        alpha = float(basis[j] @ w)
        alphas.append(alpha)
        if j == steps - 1:
            break
        w = w - alpha * basis[j] - (betas[-1] * basis[j - 1] if j else 0.0)
        for _ in range(2):
            w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)
        beta = float(w.norm())
        scale = max(max(abs(a) for a in alphas), max(betas, default=0.0), 1e-300)
        if not beta > 100 * eps * scale:
            break  # an invariant subspace: T's eigenvalues are exact eigenvalues of A
        betas.append(beta)
        basis[j + 1] = w / beta
    return np.asarray(alphas), np.asarray(betas)


def gauss_quadrature(alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) of the tridiagonal (alphas, betas): its eigenvalues and the squared
    first components of its unit eigenvectors (``eigh``: columns are eigenvectors, so the
    first components are row 0)."""
    tridiagonal = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
    values, vectors = np.linalg.eigh(tridiagonal)
    return values, vectors[0, :] ** 2


def slq(
    operator: SymmetricOperator,
    probes: int = PROBES,
    steps: int = STEPS,
    *,
    distribution: str = "rademacher",
    seed: int = 0,
    generator: torch.Generator | None = None,
) -> Quadrature:
    """Stochastic Lanczos quadrature of ``operator``'s spectrum: ``probes`` random starts
    (from ``generator``, else one seeded with ``seed``), ``steps`` Lanczos steps each (at most
    n); ``probes * steps`` products at most, counted by the operator."""
    if not isinstance(steps, int) or steps < 1:
        raise UsageError(f"the number of Lanczos steps must be a positive integer, got {steps!r}")
    if generator is None:
        generator = torch.Generator().manual_seed(int(seed))
    starts = probe_vectors(operator, probes, distribution, generator)
    m = min(steps, int(operator.size))
    nodes = np.full((probes, m), np.nan)
    weights = np.zeros((probes, m))
    before = operator.hvps
    for p in range(probes):
        alphas, betas = lanczos_tridiagonal(operator, starts[:, p], m)
        values, mass = gauss_quadrature(alphas, betas)
        nodes[p, : values.size], weights[p, : values.size] = values, mass
    return Quadrature(nodes, weights, int(operator.size), operator.hvps - before, distribution)


def spectral_density(
    model: torch.nn.Module | None = None,
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    inputs: torch.Tensor | Sequence[torch.Tensor] | None = None,
    targets: torch.Tensor | Sequence[torch.Tensor] | None = None,
    probes: int = PROBES,
    steps: int = STEPS,
    *,
    operator: SymmetricOperator | None = None,
    dtype: str | torch.dtype | None = None,
    mode: str = "eval",
    backend: str = "auto",
    distribution: str = "rademacher",
    seed: int = 0,
) -> Quadrature:
    """The SLQ quadrature of the Hessian of ``loss(model(inputs), targets)`` (arguments as in
    ``phasebench.sharpness``), or of ``operator`` when one is given (a GGN, say: every
    ``SymmetricOperator`` works). ``quadrature.density()`` is the broadened density on a grid,
    ``.trace`` / ``.trace_error`` the trace estimate, ``.top`` the largest Ritz value."""
    if operator is None:
        if model is None or loss is None or inputs is None or targets is None:
            raise UsageError("spectral_density needs model, loss, inputs and targets, or operator")
        from phasebench.hessian.api import resolve_loss
        from phasebench.hessian.operator import HessianOperator

        operator = HessianOperator(
            model,
            resolve_loss(loss),
            inputs,
            targets,
            dtype=dtype,
            mode=mode,
            backend=backend,
            seed=seed,
        )
    return slq(operator, probes, steps, distribution=distribution, seed=seed)
