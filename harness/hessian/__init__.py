"""The Hessian engine: the operator v -> Hv, its HVP backends, and the estimator result.

``HessianOperator`` (``phasebench.hessian.operator``) is the symmetric linear operator an
estimator iterates on; ``SharpnessResult`` (``phasebench.hessian.result``) is what every
estimator returns; ``sharpness`` (``phasebench.hessian.api``) ties them to a model and a loss.
Names are resolved lazily so importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HessianOperator", "SharpnessResult", "sharpness"]

_WHERE = {
    "HessianOperator": "phasebench.hessian.operator",
    "SharpnessResult": "phasebench.hessian.result",
    "sharpness": "phasebench.hessian.api",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'phasebench.hessian' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
