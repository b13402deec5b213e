"""Lanczos with full reorthogonalization: the default sharpness estimator.

Contract (see ``register_estimators``): the first Lanczos vector is the warm start (the previous
step's top eigenvector) when there is one. Otherwise ``start="gradient"`` (default) starts from
the unit gradient plus a unit Gaussian vector: the gradient lies mostly in the top Hessian
eigenspace (Gur-Ari et al. 2018), so the top eigenvalues converge in fewer products, and the
Gaussian part keeps the start generic (a zero gradient leaves the Gaussian alone). It costs
nothing with the ``graph`` backend, which keeps the gradient its graph was built from.
``start="random"`` is the Gaussian vector alone, which ``which="smallest"`` always uses (the
gradient points the wrong way for it). Each step costs one product; the new vector is
orthogonalized against all previous ones twice (classical Gram-Schmidt, twice is enough). The
tridiagonal T (alpha, beta) is kept in float64 and solved with ``eigh``. The Ritz residual of
pair i, beta_m |s_{m,i}| (= ||H y_i - theta_i y_i|| in exact arithmetic), is the stopping rule:
stop when it is <= tol * |theta_i| for the k wanted Ritz values (the eigenvalue error is at most
residual^2 / gap). ``stop="eigenvalue"`` stops instead when the estimated eigenvalue error
min(r_i, max(r_i^2 / gap_i, change_i)) is <= tol * |theta_i|, gap_i the distance from
theta_i to the nearest other Ritz value and change_i how far theta_i moved in the last step
(the first step: the residual alone; see ``eigenvalue_error``); ``stop="auto"`` (default) is
the residual rule here: a caller that tracks a slowly moving spectrum from a warm start (the
trace) asks for ``"eigenvalue"`` itself. ``which``: "largest" (algebraic, default),
"magnitude", or "smallest". An early breakdown (beta ~ 0: an invariant subspace) ends the run
when the wanted values have converged, and otherwise restarts from a Gaussian vector
orthogonal to the basis.
"""

from __future__ import annotations

import math

import torch

from phasebench.errors import UsageError
from phasebench.hessian.estimation import WHICH, Estimate, Request, best_first, estimator
from phasebench.hessian.operator import HessianOperator
from phasebench.hessian.vectors import start_vectors

STARTS = ("gradient", "random")


def first_vector(
    operator: HessianOperator,
    warm_start: torch.Tensor | None,
    generator: torch.Generator | None,
    start: str,
    which: str,
) -> torch.Tensor:
    """The first Lanczos vector: the warm start, else the unit gradient plus a unit Gaussian
    vector (``start="gradient"``, not for ``which="smallest"``), else the Gaussian vector."""
    if warm_start is not None:
        return start_vectors(operator, 1, warm_start, generator)[0]
    gaussian = operator.random_vector(generator)
    if start == "random" or which == "smallest":
        return gaussian
    gradient = operator.gradient()
    norm = float(gradient.double().norm())
    if not (norm > 0 and math.isfinite(norm)):
        return gaussian
    q = gradient / norm + gaussian
    return q / q.double().norm().to(q.dtype)


#: How many times its last change a Ritz value may still move (``eigenvalue_error``): with the
#: change alone (factor 1) a trace measured 1.3e-3 relative error at tol 1e-3.
CHANGE_FACTOR = 2.0


def eigenvalue_error(
    theta: torch.Tensor, wanted: torch.Tensor, res: torch.Tensor, before: torch.Tensor | None
) -> torch.Tensor:
    """The estimated error of each wanted Ritz value: min(r, max(r^2 / gap, change)). A Ritz
    value with residual r has an eigenvalue within r (always) and, when the rest of the
    spectrum is at least ``gap`` away, within r^2 / gap (Kato-Temple); ``gap`` is its distance
    to the nearest other Ritz value, which overestimates the true gap in a small Krylov space
    (interlacing), so the estimate also takes ``change``, how far the value moved in the last
    step (``before``: the wanted values one step earlier; None or one Ritz value: r alone),
    times ``CHANGE_FACTOR``: a Krylov value converging geometrically at rate rho has
    rho / (1 - rho) times its last change still to go, 2 at rho = 2/3.)"""
    if before is None or len(theta) < 2:
        return res
    distance = (theta[wanted, None] - theta[None, :]).abs()
    distance[torch.arange(len(wanted)), wanted] = float("inf")
    gap = distance.min(dim=1).values
    known = gap > 0
    squared = torch.where(known, res.square() / gap.where(known, 1.0), float("inf"))
    change = CHANGE_FACTOR * (theta[wanted] - before).abs()
    return torch.minimum(res, torch.maximum(squared, change))


class _Basis:
    """The orthonormal Lanczos vectors, one tensor each (no stacked copies: memory is m * n)."""

    def __init__(self) -> None:
        self.rows: list[torch.Tensor] = []

    def add(self, v: torch.Tensor) -> None:
        self.rows.append(v)

    def orthogonalize(self, w: torch.Tensor) -> torch.Tensor:
        """Gram-Schmidt of ``w`` (modified in place) against every vector, twice."""
        for _ in range(2):
            for q in self.rows:
                w.addcmul_(q, torch.dot(q, w), value=-1.0)  # in place: no n-sized temporaries
        return w

    def combine(self, coefficients: torch.Tensor) -> torch.Tensor:
        """(k, n) rows sum_j coefficients[j, i] q_j."""
        out = torch.zeros(
            coefficients.shape[1],
            self.rows[0].numel(),
            dtype=self.rows[0].dtype,
            device=self.rows[0].device,
        )
        for q, c in zip(self.rows, coefficients, strict=True):
            out += c[:, None] * q
        return out


@estimator(which=WHICH, tolerance="tol", budget="max_iter")
def estimate(
    operator: HessianOperator,
    request: Request,
    max_iter: int = 100,
    tol: float = 1e-3,
    which: str = "largest",
    start: str = "gradient",
    stop: str = "auto",
) -> Estimate:
    """The k wanted eigenvalues by Lanczos; see the module docstring for the contract."""
    k, generator = request.k, request.generator
    if int(max_iter) < k:  # each option's own range is the registry's to check
        raise UsageError(f"lanczos needs max_iter >= k (got max_iter={max_iter}, k={k})")
    steps = min(int(max_iter), operator.size)
    tiny = 100 * torch.finfo(operator.dtype).eps
    basis = _Basis()
    q = first_vector(operator, request.warm_start, generator, start, which)
    alphas: list[float] = []
    betas: list[float] = []  # betas[j] couples q_j and q_{j+1}; 0 after a restart
    theta = s = wanted = before = None
    res = torch.full((k,), float("inf"), dtype=torch.float64)
    converged = False
    for j in range(steps):
        basis.add(q)
        w = operator.matvec(q)
        alpha = float(q.double() @ w.double())
        w = w - alpha * q
        if j > 0 and betas[-1] != 0.0:
            w = w - betas[-1] * basis.rows[j - 1]
        w = basis.orthogonalize(w)
        beta = float(w.double().norm())
        alphas.append(alpha)
        t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if j > 0:
            off = torch.tensor(betas, dtype=torch.float64)
            t += torch.diag(off, 1) + torch.diag(off, -1)
        theta, s = torch.linalg.eigh(t)
        wanted = best_first(theta, min(k, j + 1), which)
        res = beta * s[-1, wanted].abs()
        scale = float(theta.abs().max())
        if stop == "eigenvalue":
            error = eigenvalue_error(theta, wanted, res, before)
            before = theta[wanted] if len(wanted) == k else None
        else:
            error = res
        if j + 1 >= k and bool((error <= tol * theta[wanted].abs().clamp_min(tiny * scale)).all()):
            converged = True
            break
        if j + 1 == steps:
            break
        if beta <= tiny * max(scale, 1e-300):  # breakdown: an invariant subspace is found
            betas.append(0.0)
            fresh = basis.orthogonalize(operator.random_vector(generator))
            norm = float(fresh.double().norm())
            if norm <= tiny:  # the basis spans everything reachable
                converged = j + 1 >= k
                break
            q = fresh / norm
        else:
            betas.append(beta)
            q = w / beta
    vectors = None
    if request.return_vectors:
        ritz = s[:, wanted].to(dtype=operator.dtype, device=operator.device)
        vectors = basis.combine(ritz)
        vectors = vectors / vectors.double().norm(dim=1, keepdim=True).to(vectors.dtype)
    return Estimate(
        eigenvalues=tuple(float(x) for x in theta[wanted]),
        converged=converged,
        residuals=tuple(float(x) for x in res),
        eigenvectors=vectors,
        iterations=len(alphas),
    )
