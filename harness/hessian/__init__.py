"""The Hessian engine: the operator v -> Hv, its HVP backends, and the estimator result.

``HessianOperator`` (``phasebench.hessian.operator``) is the symmetric linear operator an
estimator iterates on (``SymmetricOperator``, ``phasebench.hessian.linear``, is the protocol);
an estimator declared with ``estimator`` returns an ``Estimate``
(``phasebench.hessian.estimation``, whose ``measure`` is the one entry point), and every
estimate comes back as a ``SharpnessResult`` (``phasebench.hessian.result``); ``sharpness``
(``phasebench.hessian.api``) ties them to a model and a loss.
Names are resolved lazily so importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Estimate",
    "HessianOperator",
    "SharpnessResult",
    "SymmetricOperator",
    "estimator",
    "sharpness",
]

_WHERE = {
    "Estimate": "phasebench.hessian.estimation",
    "HessianOperator": "phasebench.hessian.operator",
    "SharpnessResult": "phasebench.hessian.result",
    "SymmetricOperator": "phasebench.hessian.linear",
    "estimator": "phasebench.hessian.estimation",
    "sharpness": "phasebench.hessian.api",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'phasebench.hessian' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
