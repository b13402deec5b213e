"""The stability threshold an optimizer declares: the sharpness above which its update, applied
to a quadratic with that curvature, diverges. The trace draws it beside the sharpness (the edge
of stability is the sharpness hovering at it).

An optimizer plugin declares it on its factory, so a third party's optimizer takes part like a
built-in one::

    from phasebench.stability import stability_threshold

    @stability_threshold(lambda eta, *, beta, **options: ((2 + 2 * beta) / eta, "(2+2beta)/eta"))
    def momentum(params, lr, *, beta, nesterov): ...

The rule is called ``rule(eta, **options)`` with the learning rate in force and the optimizer's
full options, and returns ``(value, kind)``: the threshold and a short formula naming it. It is
the threshold of the Hessian's top eigenvalue. An adaptive optimizer (``phasebench.adaptive``)
declares, with the same ``rule(eta, **options)`` contract, the threshold of its preconditioned
sharpness, lambda_max(P^-1 H); ``threshold_of`` gives that one for it (``preconditioned`` says which
sharpness a trace must measure). An optimizer that declares neither has no threshold (nan,
``UNDECLARED``). Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from phasebench import adaptive
from phasebench.errors import PluginError

#: The attribute ``stability_threshold`` sets on an optimizer factory.
THRESHOLD_ATTRIBUTE = "__phasebench_stability_threshold__"
#: The kind of an optimizer that declares no threshold.
UNDECLARED = "undefined (the optimizer declares none)"
#: What an adaptive optimizer (Adam) declares until a preconditioned threshold exists.
ADAPTIVE = "undefined (adaptive optimizer)"

Rule = Callable[..., tuple[float, str]]


@dataclass(frozen=True)
class Threshold:
    """The threshold at one learning rate: its value (nan where undefined) and its formula."""

    value: float
    kind: str

    @property
    def defined(self) -> bool:
        return math.isfinite(self.value)


def stability_threshold(rule: Rule) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the stability threshold of an optimizer factory (a decorator)."""
    if not callable(rule):
        raise PluginError(f"stability_threshold takes a callable rule, got {type(rule).__name__}")

    def mark(factory: Callable[..., Any]) -> Callable[..., Any]:
        setattr(factory, THRESHOLD_ATTRIBUTE, rule)
        return factory

    return mark


def undefined(kind: str = ADAPTIVE) -> Rule:
    """A rule for an optimizer whose threshold is not defined: always (nan, ``kind``)."""

    def rule(eta: float, **options: Any) -> tuple[float, str]:
        return math.nan, kind

    return rule


def preconditioned(factory: Any) -> bool:
    """Whether the optimizer ``factory`` is adaptive: its threshold is of lambda_max(P^-1 H)."""
    return adaptive.traits(factory) is not None


def threshold_of(
    factory: Any, eta: float, options: Mapping[str, Any], name: str, optimizer: Any = None
) -> Threshold:
    """The threshold the optimizer ``factory`` declares at learning rate ``eta`` (an adaptive
    one: the rule of its ``phasebench.adaptive`` declaration, of its preconditioned sharpness;
    ``optimizer`` is unused by today's rules); an optimizer that declares none has nan. A rule
    that raises or returns something else is a one-line PluginError naming the optimizer."""
    declared = adaptive.traits(factory)
    rule = declared.threshold if declared is not None else None
    rule = rule or getattr(factory, THRESHOLD_ATTRIBUTE, None)
    if rule is None:
        return Threshold(math.nan, UNDECLARED)
    try:
        value, kind = rule(float(eta), **dict(options))
        return Threshold(float(value), str(kind))
    except Exception as exc:
        raise PluginError(
            f"optimizer {name!r}: its stability_threshold rule raised or returned something "
            f"other than (value, kind) ({type(exc).__name__}: {exc}); fix the plugin"
        ) from None
