"""``MatrixOperator``: a dense symmetric matrix as a ``SymmetricOperator``, counting products.

For tests and for checking an estimator against a spectrum chosen by hand:
``MatrixOperator.with_spectrum(eigenvalues, seed)`` is Q diag(eigenvalues) Q^T with Q a random
orthogonal matrix (from ``seed``), so the answer is known exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from phasebench.errors import UsageError


class MatrixOperator:
    """``v -> A v`` for a dense symmetric ``(n, n)`` matrix ``A``."""

    def __init__(self, matrix: torch.Tensor) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise UsageError(f"a square matrix is needed, got shape {tuple(matrix.shape)}")
        scale = float(matrix.abs().max()) if matrix.numel() else 0.0
        if float((matrix - matrix.T).abs().max()) > 1e-6 * max(scale, 1.0):
            raise UsageError("the matrix is not symmetric; pass (A + A.T) / 2")
        self.matrix = matrix
        self.size = int(matrix.shape[0])
        self.dtype = matrix.dtype
        self.device = matrix.device
        self.hvps = 0

    @classmethod
    def with_spectrum(
        cls, eigenvalues: Sequence[float] | torch.Tensor, seed: int = 0, dtype=torch.float64
    ) -> MatrixOperator:
        """Q diag(eigenvalues) Q^T, Q orthogonal (the QR of a Gaussian matrix from ``seed``)."""
        values = torch.as_tensor(eigenvalues, dtype=torch.float64).reshape(-1)
        n = values.numel()
        generator = torch.Generator().manual_seed(int(seed))
        q, r = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r))
        matrix = (q * values) @ q.T
        return cls(((matrix + matrix.T) / 2).to(dtype))

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        self.hvps += 1
        return self.matrix @ v

    def matmat(self, block: torch.Tensor) -> torch.Tensor:
        self.hvps += int(block.shape[1])
        return self.matrix @ block
