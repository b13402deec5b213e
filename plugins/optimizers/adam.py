"""Adam, as ``torch.optim.Adam`` without weight decay, and GI-Adam (option ``gi``).

GI-Adam (Kalra & Barkeshli 2024, "Why warmup the learning rate?") initializes the second
moment with the first gradient squared, v_0 = g_0^2, instead of 0; everything else is Adam's,
its bias corrections included (so v_hat starts near g_0^2 / (1 - beta2) and the first steps are
smaller: the warmup GI-Adam builds in).

Both are declared adaptive (``phasebench.adaptive``): their preconditioner is the P of the
next step, (1 - beta1^(t+1)) (sqrt(v_t / (1 - beta2^t)) + eps) with t the steps taken, the P
of Cohen et al. 2022's code; their stability threshold (2 + 2 beta1) / (lr (1 - beta1)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from phasebench.adaptive import adaptive
from phasebench.errors import UsageError
from phasebench_builtins.optimizers.checks import learning_rate, unit_interval

THRESHOLD_KIND = "(2+2beta1)/(eta(1-beta1))"


class GIAdam(torch.optim.Adam):
    """``torch.optim.Adam`` whose second moment starts at g_0^2 (the first gradient it sees)."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and not self.state[p]:
                    self.state[p] = {
                        "step": torch.zeros((), dtype=_scalar_dtype()),
                        "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                        "exp_avg_sq": p.grad.detach().square().clone(),
                    }
        return super().step(closure)


def _scalar_dtype() -> torch.dtype:
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def preconditioner(optimizer: torch.optim.Optimizer) -> torch.Tensor:
    """The flat diagonal of the next step's P, in the optimizer's parameter order."""
    parts = []
    for group in optimizer.param_groups:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            state = optimizer.state.get(p) or {}
            if "exp_avg_sq" not in state:
                raise UsageError(
                    "Adam's preconditioner is defined after its first step (v is still unset)"
                )
            t = int(state["step"])
            v_hat = state["exp_avg_sq"].double() / (1 - beta2**t)
            parts.append(((1 - beta1 ** (t + 1)) * (v_hat.sqrt() + group["eps"])).reshape(-1))
    return torch.cat(parts)


def threshold(eta: float, *, betas: Sequence[float], **options: object) -> tuple[float, str]:
    """Adam's preconditioned sharpness lambda_1(P^-1 H) is stable below (2 + 2 beta1) /
    (eta (1 - beta1)) (Cohen et al. 2022): 38 / eta at beta1 = 0.9. (The rule's shape is the
    trace's ``stability_threshold``; declare it there too once that lands.)"""
    beta1 = float(betas[0])
    return (2 + 2 * beta1) / (float(eta) * (1 - beta1)), THRESHOLD_KIND


@adaptive(preconditioner=preconditioner, threshold=threshold)
def adam(
    params: Iterable[torch.Tensor],
    lr: float,
    *,
    betas: Sequence[float],
    eps: float,
    gi: bool = False,
) -> torch.optim.Adam:
    """Adam(lr, betas=(beta1, beta2), eps); GI-Adam (v_0 = g_0^2) with ``gi``."""
    name = "adam"
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
        raise UsageError(
            f"optimizer {name!r}: betas must be two numbers [beta1, beta2], got {betas!r}"
        )
    beta1 = unit_interval(name, "betas[0]", betas[0])
    beta2 = unit_interval(name, "betas[1]", betas[1])
    lr = learning_rate(name, lr)
    kind = GIAdam if gi else torch.optim.Adam
    return kind(params, lr=lr, betas=(beta1, beta2), eps=float(eps))
