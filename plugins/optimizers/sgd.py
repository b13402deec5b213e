"""Plain SGD (the paper's) and SGD with momentum, as ``torch.optim.SGD``."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from phasebench.errors import UsageError
from phasebench_builtins.optimizers.checks import learning_rate


def sgd(params: Iterable[torch.Tensor], lr: float) -> torch.optim.SGD:
    """theta <- theta - lr * grad."""
    return torch.optim.SGD(params, lr=learning_rate("sgd", lr), momentum=0.0)


def momentum(
    params: Iterable[torch.Tensor], lr: float, *, beta: float, nesterov: bool
) -> torch.optim.SGD:
    """Heavy ball: v <- beta v + grad, theta <- theta - lr v (Nesterov: step along grad + beta v).

    Full-batch GD with this update is stable for sharpness below (2 + 2 beta) / lr.
    """
    if nesterov and beta == 0:
        raise UsageError("optimizer 'momentum': nesterov needs beta > 0")
    lr = learning_rate("momentum", lr)
    return torch.optim.SGD(params, lr=lr, momentum=beta, dampening=0.0, nesterov=nesterov)
