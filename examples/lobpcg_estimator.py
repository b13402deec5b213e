"""A third-party sharpness estimator: scipy's LOBPCG on phasebench's Hessian operator.

The complete example of docs/plugins.md ("register_estimators" and "The operator"). Install it
as a plugin by naming this module in your distribution's entry points::

    [project.entry-points.phasebench]
    my-lobpcg = "lobpcg_estimator"

and use it as ``phasebench sharpness --estimator lobpcg ...`` or
``phasebench.sharpness(model, loss, x, y, estimator="lobpcg")``. It needs scipy.
"""

from __future__ import annotations

import warnings

import torch

from phasebench import Option, hookimpl
from phasebench.hessian.estimation import Estimate, estimator


@estimator(which=("largest", "smallest"), tolerance="tol", budget="max_iter")
def estimate(operator, request, tol=1e-3, max_iter=100, which="largest"):
    """The k largest (or smallest) eigenvalues by LOBPCG with a block of k vectors; converged
    when every residual ||Hv - lambda v|| is at most ``tol * |lambda|``."""
    import numpy as np
    from scipy.sparse.linalg import lobpcg

    block = torch.stack(request.starts(operator), dim=1)  # (n, k): the warm start, then random
    start = block.to("cpu", torch.float64).numpy()
    hessian = operator.as_scipy()  # every product runs on the operator and is counted there
    # scipy's tol is absolute: scale it by the start's largest Rayleigh quotient (k products)
    guess = float(np.abs(np.einsum("ij,ij->j", start, hessian.matmat(start))).max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not reaching the requested tolerance": reported below
        values, vectors, history = lobpcg(
            hessian,
            start,
            tol=tol * max(guess, np.finfo(np.float64).tiny),
            maxiter=int(max_iter),
            largest=which == "largest",
            retResidualNormsHistory=True,
        )
    order = np.argsort(-values if which == "largest" else values)
    values, vectors = values[order], vectors[:, order]
    residuals = np.atleast_1d(np.asarray(history[-1], dtype=np.float64)).ravel()[order]
    return Estimate(
        eigenvalues=tuple(float(v) for v in values),
        converged=bool(np.all(residuals <= tol * np.abs(values))),
        residuals=tuple(float(r) for r in residuals),
        eigenvectors=(
            torch.from_numpy(np.ascontiguousarray(vectors.T)).to(operator.device, operator.dtype)
            if request.return_vectors
            else None
        ),
        iterations=len(history),
    )


@hookimpl
def register_estimators(register):
    register(
        "lobpcg",
        "lobpcg_estimator:estimate",
        description="scipy's LOBPCG, a block of k vectors; stops at ||Hv - lambda v|| <= "
        "tol |lambda|",
        options=[
            Option("tol", 1e-3, "stop when every residual <= tol |lambda|", gt=0),
            Option("max_iter", 100, "LOBPCG iterations at most", ge=1),
            Option("which", "largest", "which eigenvalues", choices=("largest", "smallest")),
        ],
    )
