"""``PreconditionedOperator``: v -> P^-1/2 A P^-1/2 v for a positive diagonal P.

Its eigenvalues are those of P^-1 A (similar matrices), and it stays symmetric, so every
estimator runs on it unchanged. With A the Hessian and P an adaptive optimizer's
preconditioner (``phasebench.adaptive``: Adam's (1 - beta1^(t+1)) (sqrt(v_hat) + eps), the
bias corrections it applies to its next step), the top eigenvalue is the preconditioned
sharpness whose stability threshold is (2 + 2 beta1) / (eta (1 - beta1)) (Cohen et al. 2022).
"""

from __future__ import annotations

import torch

from phasebench.errors import UsageError
from phasebench.hessian.linear import SymmetricOperator
from phasebench.hessian.matrix_free import ProductOperator


class PreconditionedOperator(ProductOperator):
    """P^-1/2 A P^-1/2 for an operator A and the flat positive diagonal ``diagonal`` of P."""

    def __init__(self, inner: SymmetricOperator, diagonal: torch.Tensor) -> None:
        if diagonal.shape != (inner.size,):
            raise UsageError(
                f"a preconditioner of {diagonal.numel()} entries for an operator of size "
                f"{inner.size}; it must hold one entry per trainable parameter"
            )
        diagonal = diagonal.detach().to(device=inner.device, dtype=torch.float64)
        if not bool(torch.isfinite(diagonal).all()) or not bool((diagonal > 0).all()):
            raise UsageError("the preconditioner has entries that are not finite and positive")
        self.inner = inner
        self.size, self.dtype, self.device = inner.size, inner.dtype, inner.device
        self.diagonal = diagonal.to(inner.dtype)
        self.scale = diagonal.rsqrt().to(inner.dtype)  # P^-1/2
        self.hvps = 0

    @property
    def backend(self) -> str:
        return str(getattr(self.inner, "backend", ""))

    @property
    def examples(self) -> int:
        return int(getattr(self.inner, "examples", 0))

    def _product(self, v: torch.Tensor) -> torch.Tensor:
        return self.scale * self.inner.matvec(self.scale * v)

    def gradient(self) -> torch.Tensor:
        """P^-1/2 g: the gradient in the preconditioned coordinates (Lanczos's start)."""
        gradient = getattr(self.inner, "gradient", None)
        if gradient is None:
            return super().gradient()
        return self.scale * gradient()
