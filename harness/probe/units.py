"""The learning-rate units: the curvature eta = c / lambda_unit(theta_0) is measured in.

``hessian`` is the paper's lambda0 (no extra measurement); ``ggn`` and ``ntk`` the top
eigenvalue of the Gauss-Newton matrix and of the NTK (``phasebench.hessian.curvature`` says
which scale); ``critical`` the critical sharpness 2 / eta_c (Kalra et al. 2026) by the line
search of ``phasebench.hessian.critical`` along -gradient at theta_0 (``unit_sharpness``);
``preconditioned`` (adaptive optimizers only: Adam, GI-Adam, a third party's declared with
``phasebench.adaptive``) the top eigenvalue of P^-1/2 H P^-1/2 at theta_0, P the optimizer's
own preconditioner once it has seen the sharpness batch's gradient at theta_0 (one step whose
parameter change is undone), so c = eta * lambda_P is on the scale of its stability threshold
(Adam: (2 + 2 beta1) / (1 - beta1) = 38 at beta1 = 0.9).
"""

from __future__ import annotations

from phasebench.errors import ParameterError

#: The learning-rate units ``lr_unit`` takes.
LR_UNITS = ("hessian", "ggn", "ntk", "critical", "preconditioned")
#: Units that can be measured in this version.
MEASURABLE = LR_UNITS


def check_lr_unit(unit: str) -> str:
    """A one-line ParameterError for an unknown or unavailable unit (before any work)."""
    if unit not in LR_UNITS:
        raise ParameterError(
            f"unknown lr_unit {unit!r}; use one of {', '.join(MEASURABLE)}", "lr_unit"
        )
    if unit not in MEASURABLE:
        raise ParameterError(
            f"lr_unit {unit!r} is not available in this version (no critical-sharpness "
            f"measurement yet); use one of {', '.join(MEASURABLE)}",
            "lr_unit",
        )
    return unit
