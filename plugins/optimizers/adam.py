"""Adam, as ``torch.optim.Adam`` without weight decay."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from phasebench.errors import UsageError
from phasebench_builtins.optimizers.checks import learning_rate, unit_interval


def adam(
    params: Iterable[torch.Tensor],
    lr: float,
    *,
    betas: Sequence[float],
    eps: float,
) -> torch.optim.Adam:
    """Adam(lr, betas=(beta1, beta2), eps)."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
        raise UsageError(
            f"optimizer 'adam': betas must be two numbers [beta1, beta2], got {betas!r}"
        )
    beta1 = unit_interval("adam", "betas[0]", betas[0])
    beta2 = unit_interval("adam", "betas[1]", betas[1])
    lr = learning_rate("adam", lr)
    return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=float(eps))
