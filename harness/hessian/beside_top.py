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
from collections.abc import Callable, Mapping
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


def smallest_of(operator: Any, top: float, estimate: Callable[[Any], Any]) -> tuple[float, Any]:
    """(the smallest eigenvalue of ``operator``, nan unless the estimate converged; the
    estimate) from ``estimate(s I - operator)`` with s = 2 |``top``|: its top eigenvalue is
    s - lambda_min, found to a tolerance relative to the whole spectrum's spread, so a
    smallest eigenvalue of 0 converges too. The probe and ``smallest_value`` both use it."""
    shift = 2 * abs(top)
    result = estimate(ShiftedOperator(operator, shift))
    value = _value(result)
    return (shift - value if math.isfinite(value) else math.nan), result


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
    value, result = smallest_of(
        operator,
        top,
        lambda shifted: run_estimator(
            shifted, estimator, 1, seed=seed, options=options, components=components
        ),
    )
    return value, result.hvps
