"""The learning rate of each step: the configuration's schedule (``phasebench.kinds``'
``schedule``; none: constant eta), and how it reaches the optimizer. The probe and the trace
both train through these two calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from phasebench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from phasebench.probe.problem import Problem


def learning_rates(
    problem: Problem, eta: float, lambda0: float, steps: int
) -> Callable[[int], float]:
    """``eta_at(t)``: the learning rate of the update taken at step t = 1..steps, from the
    target ``eta`` (c / lambda0) by the problem's schedule; constant ``eta`` without one."""
    if problem.config.schedule is None:
        rate = float(eta)
        return lambda t: rate
    return problem._call("schedule", eta, lambda0, steps, **problem.config.schedule.opts())


def set_learning_rate(optimizer: torch.optim.Optimizer, eta_t: float) -> None:
    """Use ``eta_t`` for the next step: every parameter group's ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = float(eta_t)


def rates(eta_at: Callable[[int], float], steps: int) -> np.ndarray:
    """(steps,) the learning rate of each step t = 1..steps."""
    return np.array([eta_at(t) for t in range(1, steps + 1)], dtype=float)


def check_rates(values: np.ndarray, name: str) -> None:
    """Every learning rate a schedule gives is a finite number >= 0 (checked before any work)."""
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0)))
    if bad.size:
        t = int(bad[0]) + 1
        raise ParameterError(
            f"schedule {name!r} gives the learning rate {values[bad[0]]} at step {t}; a learning "
            "rate must be a finite number >= 0: fix the schedule's options",
            "schedule",
        )
