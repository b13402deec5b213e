"""Checking one registered component: ``check_component`` picks the check for its kind and
runs it with the registered defaults (an initialization also on the models asked for)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from phasebench import plugins
from phasebench.errors import UsageError
from phasebench.plugins import Components
from phasebench.registry import KINDS
from phasebench.testing.common import NUM_OUTPUTS, _global_rng_kept
from phasebench.testing.datasets import check_dataset
from phasebench.testing.estimators import check_estimator
from phasebench.testing.executors import check_executor
from phasebench.testing.initializations import check_initialization
from phasebench.testing.losses import check_loss
from phasebench.testing.models import _build_model, check_model
from phasebench.testing.optimizers import check_optimizer

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

_CHECKS: dict[str, Callable[..., str]] = {
    "model": check_model,
    "initialization": check_initialization,
    "loss": check_loss,
    "optimizer": check_optimizer,
    "estimator": check_estimator,
    "dataset": check_dataset,
    "executor": check_executor,
}


def _model_targets(
    registry_of: Components, models: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, Callable[[], nn.Module], tuple[int, ...]]]:
    """Fresh-model factories for the named models (with these options) at a shape they take."""
    targets = []
    for model_name, given in models.items():
        registration = registry_of.get("model", model_name)
        build = registration.load()
        model_options = registration.options(given)
        label = f"model {model_name!r}"
        with _global_rng_kept():
            _, shape = _build_model(build, model_options, label)

        def fresh(build=build, shape=shape, model_options=model_options) -> nn.Module:
            return build(shape, NUM_OUTPUTS, **model_options)

        targets.append((f"model {model_name!r} {dict(model_options)}", fresh, shape))
    return targets


def check_component(
    kind: str,
    name: str,
    components: Components | None = None,
    options: Mapping[str, Any] | None = None,
    models: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """Check the registered ``kind`` component ``name`` against its contract.

    ``options`` override its registered defaults (unknown ones are a UsageError). ``models``
    (initializations only): registered model names -> options; the initialization is also
    checked on each. Returns ``"passed"`` or ``"skipped: <why>"``; raises
    :class:`ConformanceError` on a violation.
    """
    if kind not in _CHECKS:
        raise UsageError(f"unknown kind {kind!r}; the kinds are: {', '.join(KINDS)}")
    found = components if components is not None else plugins.components()
    registration = found.get(kind, name)
    label = f"{kind} {name!r} (plugin {registration.plugin!r})"
    component = registration.load()
    merged = registration.options(options)
    if kind == "initialization":
        targets = _model_targets(found, models or {})
        return check_initialization(component, merged, label, targets)
    if kind == "executor":
        return check_executor(component, merged, label, defaults=registration.defaults)
    return _CHECKS[kind](component, merged, label)
