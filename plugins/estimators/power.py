"""Power iteration: the paper's estimator, made honest.

It finds the eigenvalue of LARGEST MAGNITUDE (on diag(-5, 3) it returns -5, not 3). Each step
computes w = H v and lambda = v^T w (float64 accumulation) and stops once the residual
||w - lambda v|| <= tol * |lambda|; after ``max_iter`` products per eigenvalue (default 20, the
paper's setting) it stops anyway and reports ``converged=False``. For k > 1 each further
eigenvalue comes from the operator deflated by projection, (I - P) H (I - P) with P the
projector onto the eigenvectors already found.
"""

from __future__ import annotations

import torch

from phasebench.hessian.estimation import Estimate, Request, estimator
from phasebench.hessian.operator import HessianOperator, residual


def _project_out(w: torch.Tensor, found: list[torch.Tensor]) -> torch.Tensor:
    for q in found:
        w = w - (q.double() @ w.double()).to(w.dtype) * q
    return w


@estimator(which=("magnitude",), tolerance="tol", budget="max_iter")
def estimate(
    operator: HessianOperator,
    request: Request,
    max_iter: int = 20,
    tol: float = 1e-3,
) -> Estimate:
    """The k eigenvalues of largest magnitude by power iteration with deflation."""
    starts = request.starts(operator)
    found: list[torch.Tensor] = []
    values: list[float] = []
    residuals: list[float] = []
    converged = True
    iterations = 0
    for start in starts:
        v = _project_out(start, found)
        v = v / v.double().norm().to(v.dtype)
        value, res, ok = 0.0, float("inf"), False
        for _ in range(int(max_iter)):
            w = _project_out(operator.matvec(v), found)
            iterations += 1
            value = float(v.double() @ w.double())
            res = residual(v, w, value)
            if res <= tol * abs(value):
                ok = True
                break
            norm = float(w.double().norm())
            if norm == 0.0:  # v spans a null direction: eigenvalue 0, exactly
                value, res, ok = 0.0, 0.0, True
                break
            v = w / norm
        converged = converged and ok
        found.append(v)
        values.append(value)
        residuals.append(res)
    return Estimate(
        eigenvalues=tuple(values),
        converged=converged,
        residuals=tuple(residuals),
        eigenvectors=torch.stack(found) if request.return_vectors else None,
        iterations=iterations,
    )
