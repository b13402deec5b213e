"""The probe's shortcuts: the same numbers as the plain loop, with the repeated work removed.

- the loss L_t after step t comes from the forward pass of the sharpness operator's gradient
  graph when the loss batch and the sharpness batch hold the same examples (the default:
  ``Problem.build`` takes both as prefixes of one permutation, so equal sizes mean equal
  batches), instead of another forward pass; not with ``sharpness_batch="next"``, where
  lambda_t is on the next training batch and L_t still on the fixed loss batch;
- the barrier's end points are L_0 and L_T, already measured (``phasebench.probe.barrier``);
- the barrier's first layer is interpolated when it is linear in its weights
  (``phasebench.probe.first_layer``).

``PHASEBENCH_PLAIN=1`` turns them all off (the loop computes everything the plain way): the
tests and the benchmarks compare both paths in one process. The values agree to float
rounding (the interpolated first layer: relative difference <= 1e-6 on the barrier).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from phasebench.hessian.operator import HessianOperator
from phasebench.probe.problem import Problem

#: The environment variable that turns the shortcuts off.
PLAIN = "PHASEBENCH_PLAIN"


def enabled() -> bool:
    """Whether the shortcuts are on (``PHASEBENCH_PLAIN`` unset, empty or 0)."""
    return os.environ.get(PLAIN, "").strip() in ("", "0")


def same_examples(problem: Problem) -> bool:
    """Whether the loss batch is the batch lambda_t is measured on (same examples, same
    order); never with ``sharpness_batch="next"`` (lambda_t is on the next training batch)."""
    inputs, targets = problem.sharpness_batch()
    return (
        problem.config.sharpness_batch == "fixed"
        and problem.config.loss_examples == problem.config.sharpness_examples
        and inputs.shape == problem.loss_inputs.shape
        and targets.shape == problem.loss_targets.shape
    )


def step_loss(
    problem: Problem,
    model: torch.nn.Module,
    build: Callable[..., Any],
) -> tuple[float, Any]:
    """L_t at the model's parameters, and the sharpness operator there when it was built to
    get it (else None). ``build(problem, model, check=False)`` builds the operator; its graph's
    forward pass is the loss's when the batches are the same."""
    if not (enabled() and same_examples(problem)):
        return problem.eval_loss(model), None
    operator = build(problem, model, check=False)
    if isinstance(operator, HessianOperator) and operator.backend == "graph":
        return operator.loss(), operator
    return problem.eval_loss(model), operator
