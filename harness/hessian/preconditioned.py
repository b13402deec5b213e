"""``PreconditionedOperator``: v -> P^-1/2 A P^-1/2 v for a positive diagonal P.

Its eigenvalues are those of P^-1 A (similar matrices), and it stays symmetric, so every
estimator runs on it unchanged. With A the Hessian and P an adaptive optimizer's
preconditioner (``phasebench.adaptive``: Adam's (1 - beta1^(t+1)) (sqrt(v_hat) + eps), the
bias corrections it applies to its next step), the top eigenvalue is the preconditioned
sharpness whose stability threshold is (2 + 2 beta1) / (eta (1 - beta1)) (Cohen et al. 2022).

``prime(optimizer, model, loss, inputs, targets)`` gives an optimizer the state that defines P
at theta (one step on the gradient there, undone): what every caller measuring P at theta_0
goes through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from phasebench.errors import UsageError
from phasebench.hessian.batches import as_batches
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


def prime(
    optimizer: torch.optim.Optimizer,
    model: torch.nn.Module,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | Sequence[torch.Tensor],
) -> torch.optim.Optimizer:
    """``optimizer`` (built on ``model``'s parameters) after one step on the gradient of
    ``loss(model(inputs), targets)`` at theta, with theta and the gradients put back as they
    were: its state (Adam's v) then defines its preconditioner P at theta. THE way P is primed
    at theta_0: the probe's ``lr_unit`` preconditioned, ``phasebench sharpness --operator
    preconditioned`` and ``phasebench.sharpness(operator="preconditioned")``. The batch is cast
    to the parameters' dtype and device; the model runs in the mode it is in."""
    params = list(model.parameters())
    first = params[0]
    theta = parameters_to_vector(params).detach().clone()
    grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
    batches = as_batches(inputs, targets, first.dtype, first.device)
    optimizer.zero_grad(set_to_none=True)
    for batch in batches:  # the gradient of the mean loss over every batch's examples
        (batch.weight * loss(model(batch.inputs), batch.targets)).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    with torch.no_grad():
        vector_to_parameters(theta, params)
    for p, grad in zip(params, grads, strict=True):
        p.grad = grad
    return optimizer
