"""The learning-rate units: the curvature eta = c / lambda_unit(theta_0) is measured in.

``hessian`` is the paper's lambda0 (no extra measurement); ``ggn`` and ``ntk`` the top
eigenvalue of the Gauss-Newton matrix and of the NTK (``phasebench.hessian.curvature`` says
which scale); ``critical`` the critical sharpness 2 / eta_c (Kalra et al. 2026) by the line
search of ``phasebench.hessian.critical`` along -gradient at theta_0 (``unit_sharpness``).
"""

from __future__ import annotations

from phasebench.errors import ParameterError

#: The learning-rate units ``lr_unit`` takes.
LR_UNITS = ("hessian", "ggn", "ntk", "critical")
#: Units that can be measured in this version.
MEASURABLE = ("hessian", "ggn", "ntk", "critical")


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
