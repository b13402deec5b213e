"""What an estimator may ask of its operator, and adapters that hand it to other solvers.

``SymmetricOperator`` is the protocol: ``size``, ``dtype``, ``device``, ``hvps`` (products so
far), ``matvec(v)`` for a flat vector and ``matmat(V)`` for an ``(size, m)`` block of ``m``
vectors at once, counted as ``m`` products. ``phasebench.hessian.HessianOperator`` implements
it; so can a dense test matrix or a future Gauss-Newton operator.

``to_scipy(operator)`` is a ``scipy.sparse.linalg.LinearOperator`` (float64 NumPy in and out;
symmetric, so ``rmatvec`` is ``matvec``) for ``eigsh``, ``lobpcg`` and friends.
``to_function(operator)`` is a plain torch callable ``X -> H X`` for a vector ``(size,)`` or a
block ``(size, m)``. Every product through an adapter is counted by the operator, so an
estimator built on either reports exactly what it spent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from phasebench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import torch


@runtime_checkable
class SymmetricOperator(Protocol):
    """A symmetric linear operator over flat vectors of length ``size``, counting products."""

    size: int
    dtype: torch.dtype
    device: torch.device
    hvps: int

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """``H v`` for ``v`` of shape ``(size,)``; one product."""
        ...

    def matmat(self, block: torch.Tensor) -> torch.Tensor:
        """``H V`` for ``V`` of shape ``(size, m)``; ``m`` products."""
        ...


def to_function(operator: SymmetricOperator) -> Callable[[torch.Tensor], torch.Tensor]:
    """``X -> H X`` for ``X`` of shape ``(size,)`` or ``(size, m)``, in the operator's dtype."""

    def apply(x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 1:
            return operator.matvec(x)
        if x.ndim == 2:
            return operator.matmat(x)
        raise UsageError(
            f"a tensor of shape {tuple(x.shape)}; the operator takes ({operator.size},) or "
            f"({operator.size}, m)"
        )

    return apply


def to_scipy(operator: SymmetricOperator) -> Any:
    """A ``scipy.sparse.linalg.LinearOperator`` of shape ``(size, size)`` and dtype float64
    whose products run on the operator (on its device, in its dtype) and are counted there."""
    try:
        import numpy as np
        from scipy.sparse.linalg import LinearOperator
    except ImportError as exc:
        raise UsageError("to_scipy needs scipy, which is not installed; pip install scipy") from exc
    import torch

    def product(x: Any) -> Any:
        block = torch.as_tensor(np.asarray(x), device=operator.device).to(operator.dtype)
        if block.ndim == 2 and block.shape[1] == 1:  # scipy passes vectors as (n, 1) too
            out = operator.matvec(block[:, 0])[:, None]
        elif block.ndim == 2:
            out = operator.matmat(block)
        else:
            out = operator.matvec(block.reshape(-1))
        return out.detach().to("cpu", torch.float64).numpy()

    n = int(operator.size)
    return LinearOperator(
        (n, n), matvec=product, rmatvec=product, matmat=product, rmatmat=product, dtype=np.float64
    )


def dense_matrix(operator: SymmetricOperator) -> torch.Tensor:
    """The operator as a full n x n matrix in float64, column by column (n products, all
    counted by the operator), symmetrized: what ``dense()`` of the built-in operators is."""
    import torch

    n = operator.size
    out = torch.empty(n, n, dtype=torch.float64, device=operator.device)
    unit = torch.zeros(n, dtype=operator.dtype, device=operator.device)
    for j in range(n):
        unit.zero_()
        unit[j] = 1
        out[:, j] = operator.matvec(unit).double()
    return 0.5 * (out + out.T)
