"""The exact answer: the full Hessian in float64 and ``torch.linalg.eigh``.

The Hessian is assembled column by column from the operator (n products through the same
backend and semantics as every other estimator, so the reference differs from them only in the
linear algebra), symmetrized, and diagonalized in float64. Memory: the n x n float64 matrix plus
eigh's workspace and eigenvectors, estimated as 3 * 8 * n^2 bytes. It refuses (one-line
UsageError) when that exceeds ``max_bytes`` (default 4 GiB) or half the memory available now
(``MemAvailable`` on Linux, free device memory on CUDA) instead of exhausting the machine.
"""

from __future__ import annotations

import torch

from phasebench.errors import UsageError
from phasebench.hessian.estimation import WHICH, Estimate, Request, best_first, estimator
from phasebench.hessian.operator import HessianOperator


def bytes_needed(n: int) -> int:
    """Estimated peak bytes of the dense Hessian and its eigendecomposition."""
    return 3 * 8 * n * n


def available_bytes(device: torch.device) -> int | None:
    """Memory free now on ``device``; None when unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_fits(n: int, device: torch.device, max_bytes: int) -> None:
    need = bytes_needed(n)
    free = available_bytes(device)
    limit = min(int(max_bytes), free // 2) if free is not None else int(max_bytes)
    if need > limit:
        raise UsageError(
            f"exact: the Hessian of {n:,} parameters needs ~{need / 2**30:.2f} GiB, over the "
            f"limit of {limit / 2**30:.2f} GiB (max_bytes or half the free memory); use "
            "estimator 'lanczos' or a smaller model"
        )


@estimator(which=WHICH, exact=True)
def estimate(
    operator: HessianOperator,
    request: Request,
    which: str = "largest",
    max_bytes: int = 4 * 1024**3,
) -> Estimate:
    """All eigenvalues of the dense Hessian; returns the k wanted ones (warm start unused)."""
    check_fits(operator.size, operator.device, max_bytes)
    hessian = operator.dense()
    values, vectors = torch.linalg.eigh(hessian)
    idx = best_first(values, request.k, which)
    top_values, top_vectors = values[idx], vectors[:, idx]
    residuals = (hessian @ top_vectors - top_vectors * top_values).norm(dim=0)
    return Estimate(
        eigenvalues=tuple(float(x) for x in top_values),
        converged=True,
        residuals=tuple(float(x) for x in residuals),
        eigenvectors=top_vectors.T.to(operator.dtype).contiguous()
        if request.return_vectors
        else None,
        iterations=1,
    )
