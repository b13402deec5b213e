"""Plain SGD (the paper's) and SGD with momentum, as ``torch.optim.SGD``."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from phasebench.errors import UsageError
from phasebench.stability import stability_threshold
from phasebench_builtins.optimizers.checks import learning_rate


def gd_threshold(eta: float) -> tuple[float, str]:
    """Plain GD on a quadratic of curvature lambda is stable for lambda < 2 / eta."""
    return 2.0 / eta, "2/eta"


def momentum_threshold(eta: float, *, beta: float, nesterov: bool) -> tuple[float, str]:
    """Heavy ball is stable for lambda < (2 + 2 beta) / eta (the root of z^2 - (1 + beta -
    eta lambda) z + beta at z = -1). Torch's Nesterov step, theta -= eta (g + beta v) with
    v = beta v + g, has z^2 - (1 + beta)(1 - eta lambda) z + beta (1 - eta lambda): stable for
    lambda < (2 + 2 beta) / ((1 + 2 beta) eta)."""
    if nesterov:
        return (2.0 + 2.0 * beta) / ((1.0 + 2.0 * beta) * eta), "(2+2beta)/((1+2beta)eta)"
    return (2.0 + 2.0 * beta) / eta, "(2+2beta)/eta"


@stability_threshold(gd_threshold)
def sgd(params: Iterable[torch.Tensor], lr: float) -> torch.optim.SGD:
    """theta <- theta - lr * grad."""
    return torch.optim.SGD(params, lr=learning_rate("sgd", lr), momentum=0.0)


@stability_threshold(momentum_threshold)
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
