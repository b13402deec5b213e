"""What ``phasebench sharpness`` measures beside the top eigenvalue of a fresh model, each
opt-in (the probe's and the trace's per-step options, at initialization):

- ``layer_values``: the top eigenvalue of each parameter block's diagonal block of the chosen
  operator (``--per-layer``; the probe's ``per_layer`` at step 0);
- ``smallest_value``: the smallest eigenvalue, by the estimator on s I - A with
  s = 2 |lambda_max| (``--smallest``; as the probe's ``smallest``);
- the critical sharpness is ``phasebench.hessian.critical.critical_sharpness`` itself.

An estimate that did not converge gives nan: it is never reported as a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from phasebench.hessian.api import run_estimator
from phasebench.hessian.blocks import parameter_blocks
from phasebench.hessian.curvature import build_operator
from phasebench.hessian.matrix_free import ShiftedOperator


def _value(result) -> float:
    value = float(result.lambda_max)
    return value if result.converged and math.isfinite(value) else math.nan


def layer_values(
    which: str,
    model: torch.nn.Module,
    loss: Any,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    estimator: str,
    *,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    components: Any = None,
    **operator_options: Any,
) -> tuple[dict[str, float], int]:
    """({block name: top eigenvalue of its diagonal block of the ``which`` operator}, the
    products spent), in ``parameter_blocks`` order; ``operator_options`` go to
    ``build_operator`` (dtype, optimizer, mode, backend, seed)."""
    values, products = {}, 0
    for name, names in parameter_blocks(model):
        operator = build_operator(
            which, model, loss, inputs, targets, block=names, seed=seed, **operator_options
        )
        result = run_estimator(
            operator, estimator, 1, seed=seed, options=options, components=components
        )
        values[name] = _value(result)
        products += result.hvps
    return values, products


def smallest_value(
    operator: Any,
    top: float,
    estimator: str,
    *,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    components: Any = None,
) -> tuple[float, int]:
    """(the smallest eigenvalue of ``operator``, the products spent) given its top one."""
    if not math.isfinite(top):
        return math.nan, 0
    shift = 2 * abs(top)
    result = run_estimator(
        ShiftedOperator(operator, shift),
        estimator,
        1,
        seed=seed,
        options=options,
        components=components,
    )
    value = _value(result)
    return (shift - value if math.isfinite(value) else math.nan), result.hvps
