"""``build_operator``: THE way the probe, the trace and the commands make a curvature operator.

``which``:

- ``hessian``: H, the Hessian of the mean loss (``HessianOperator``; the paper's lambda0);
- ``ggn``: the Gauss-Newton matrix G = J^T H_out J (``GaussNewtonOperator``), H_out the loss's
  own Hessian in the outputs; positive semi-definite; equal to H for a model linear in its
  parameters;
- ``ntk``: J^T J / N, the parameter-space view of the empirical NTK Theta = J J^T / N (same
  nonzero eigenvalues). The scale reported is lambda_max(Theta) with Theta averaged over the N
  examples and summed over the k outputs (the catapult paper's lambda_NTK); for the built-in
  ``mse`` (0.5 * mean over examples and outputs) lambda_max(G) = lambda_max(Theta) / k exactly;
- ``preconditioned``: P^-1/2 H P^-1/2, P the diagonal preconditioner the ``optimizer``
  declares (``phasebench.adaptive``); its eigenvalues are those of P^-1 H.

``block``: a layer name (``parameter_blocks``), a parameter name or a list of them: the
operator is then the diagonal block of that matrix for those parameters (for ``preconditioned``
P restricted to them too). Every operator is a ``SymmetricOperator`` with ``dense()``,
``random_vector()`` and ``gradient()``, so every estimator runs on each unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import torch

from phasebench import adaptive
from phasebench.errors import UsageError
from phasebench.hessian.blocks import block_names, trainable_only
from phasebench.hessian.functional import LossFn
from phasebench.hessian.gauss_newton import GaussNewtonOperator
from phasebench.hessian.linear import SymmetricOperator
from phasebench.hessian.operator import HessianOperator
from phasebench.hessian.preconditioned import PreconditionedOperator

#: The operators ``build_operator`` makes, in the order the CLI lists them.
OPERATORS = ("hessian", "ggn", "ntk", "preconditioned")
#: The symbol of each operator's top eigenvalue in labels (``c = eta * lambda_ggn``).
SYMBOLS = {
    "hessian": "lambda",
    "ggn": "lambda_ggn",
    "ntk": "lambda_ntk",
    "preconditioned": "lambda_P",
}


def check_operator(which: str) -> str:
    if which not in OPERATORS:
        raise UsageError(f"unknown curvature operator {which!r}; use one of {', '.join(OPERATORS)}")
    return which


def build_operator(
    which: str,
    model: torch.nn.Module,
    loss: LossFn,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | Sequence[torch.Tensor],
    *,
    dtype: str | torch.dtype | None = None,
    optimizer: Any = None,
    block: str | Sequence[str] | None = None,
    mode: str = "eval",
    backend: str = "auto",
    seed: int = 0,
) -> SymmetricOperator:
    """The ``which`` operator of ``loss(model(inputs), targets)`` (see the module docstring);
    ``optimizer`` is needed by ``preconditioned`` only, ``backend`` used by ``hessian`` only."""
    check_operator(which)
    if which == "preconditioned" and optimizer is None:
        raise UsageError("the preconditioned operator needs the optimizer whose P it uses")
    names = None if block is None else block_names(model, block)
    scope = contextlib.nullcontext() if names is None else trainable_only(model, names)
    with scope:
        if which in ("ggn", "ntk"):
            curvature = "loss" if which == "ggn" else "ntk"
            return GaussNewtonOperator(
                model, loss, inputs, targets, dtype=dtype, mode=mode, seed=seed, curvature=curvature
            )
        hessian = HessianOperator(
            model, loss, inputs, targets, dtype=dtype, mode=mode, backend=backend, seed=seed
        )
    if which == "hessian":
        return hessian
    return PreconditionedOperator(hessian, preconditioner_diagonal(optimizer, model, hessian.names))


def preconditioner_diagonal(optimizer: Any, model: torch.nn.Module, names: Sequence[str]):
    """The optimizer's declared diagonal of P, reordered to the parameters ``names`` of
    ``model`` (the operator's order)."""
    declared = adaptive.require(optimizer)
    flat = torch.as_tensor(declared.preconditioner(optimizer)).reshape(-1)
    where: dict[int, torch.Tensor] = {}
    offset = 0
    for group in optimizer.param_groups:
        for p in group["params"]:
            where[id(p)] = flat[offset : offset + p.numel()]
            offset += p.numel()
    if offset != flat.numel():
        raise UsageError(
            f"the optimizer's preconditioner has {flat.numel()} entries for {offset} parameters"
        )
    params = dict(model.named_parameters())
    missing = [n for n in names if id(params[n]) not in where]
    if missing:
        raise UsageError(
            f"the optimizer does not train {', '.join(missing)}; build it on these parameters"
        )
    return torch.cat([where[id(params[n])] for n in names])
