"""Helpers every estimator shares: checking k and turning a warm start into start vectors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phasebench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from phasebench.hessian.linear import SymmetricOperator
    from phasebench.hessian.operator import HessianOperator


def check_k(operator: SymmetricOperator, k: int) -> None:
    """``1 <= k <= n``, else a one-line UsageError."""
    if not isinstance(k, int) or k < 1:
        raise UsageError(f"k must be a positive integer, got {k!r}")
    if k > operator.size:
        raise UsageError(
            f"k={k} is larger than the number of parameters ({operator.size}); use k <= "
            f"{operator.size}"
        )


def start_vectors(
    operator: HessianOperator,
    count: int,
    warm_start: torch.Tensor | None,
    generator: torch.Generator | None,
) -> list[torch.Tensor]:
    """``count`` unit start vectors: the rows of ``warm_start`` first, then Gaussian ones.

    ``warm_start`` is a flat vector (n,) or a stack (j, n) (a previous result's eigenvectors).
    A zero or non-finite warm start is an error: it would silently restart from nothing.
    """
    vectors: list[torch.Tensor] = []
    if warm_start is not None:
        rows = warm_start.reshape(1, -1) if warm_start.ndim == 1 else warm_start
        if rows.ndim != 2 or rows.shape[1] != operator.size:
            raise UsageError(
                f"warm start of shape {tuple(warm_start.shape)}; it must be ({operator.size},) or "
                f"(j, {operator.size}), e.g. the previous result's eigenvectors"
            )
        for row in rows[:count]:
            row = row.to(device=operator.device, dtype=operator.dtype)
            norm = float(row.double().norm())
            if not norm > 0 or norm != norm or norm == float("inf"):
                raise UsageError("the warm start is zero or not finite; pass None to start fresh")
            vectors.append(row / norm)
    while len(vectors) < count:
        vectors.append(operator.random_vector(generator))
    return vectors


#: The distributions random probes are drawn from (``probe_vectors``).
PROBES = ("rademacher", "gaussian")


def probe_vectors(
    operator: SymmetricOperator,
    count: int,
    distribution: str = "rademacher",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``(size, count)`` random probes with E[z z^T] = I, in the operator's dtype and on its
    device: Rademacher (+-1) or standard Gaussian entries, drawn in float64 on the CPU from
    ``generator`` (so a seed gives the same probes on every device), then moved once."""
    import torch

    if distribution not in PROBES:
        raise UsageError(f"unknown probe distribution {distribution!r}; use {' or '.join(PROBES)}")
    if not isinstance(count, int) or count < 1:
        raise UsageError(f"the number of probe vectors must be a positive integer, got {count!r}")
    shape = (int(operator.size), count)
    if distribution == "gaussian":
        z = torch.randn(shape, generator=generator, dtype=torch.float64)
    else:
        z = torch.randint(0, 2, shape, generator=generator, dtype=torch.int64).double() * 2 - 1
    return z.to(device=operator.device, dtype=operator.dtype)
