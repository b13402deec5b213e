"""Checking one registered component: ``check_component`` picks the check for its kind and
runs it with the registered defaults (an initialization also on the models asked for)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from phasebench import plugins
from phasebench.errors import UsageError
from phasebench.kinds import Kind
from phasebench.plugins import Components
from phasebench.testing.common import NUM_OUTPUTS, _global_rng_kept
from phasebench.testing.models import _build_model

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


def _check_of(kind: Kind) -> Callable[..., str] | None:
    """The conformance check the kind declares (None: a plugin's kind without one)."""
    if not kind.check:
        return None
    module_name, _, function = kind.check.partition(":")
    return getattr(importlib.import_module(module_name), function)


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
    found = components if components is not None else plugins.components()
    try:
        check = _check_of(found.kind(kind))
    except KeyError:
        names = ", ".join(k.name for k in found.kinds)
        raise UsageError(f"unknown kind {kind!r}; the kinds are: {names}") from None
    registration = found.get(kind, name)
    label = f"{kind} {name!r} (plugin {registration.plugin!r})"
    component = registration.load()
    merged = registration.options(options)
    if check is None:
        return f"skipped: kind {kind!r} declares no conformance check"
    if kind == "initialization":
        return check(component, merged, label, _model_targets(found, models or {}))
    if kind == "executor":
        return check(component, merged, label, defaults=registration.defaults)
    if kind == "command":
        return check(component, name, label)
    return check(component, merged, label)
