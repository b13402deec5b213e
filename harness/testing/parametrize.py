"""``parametrize_components``: one pytest case per registered component, for a plugin's own
test suite."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from phasebench import plugins
from phasebench.plugins import Components

if TYPE_CHECKING:  # pragma: no cover
    import pytest


def parametrize_components(
    kinds: Iterable[str] | None = None,
    plugin: str | None = None,
    found: Components | None = None,
    marks: Mapping[tuple[str, str], Any] | None = None,
) -> pytest.MarkDecorator:
    """``@parametrize_components(["model"])`` on ``def test_x(kind, name)``: one test per
    registered component of those kinds (default all), optionally only ``plugin``'s.
    ``marks``: (kind, name) -> a pytest mark (or marks) for that case, e.g.
    ``{("logger", "mlflow"): pytest.mark.slow}``."""
    import pytest

    found = found if found is not None else plugins.components()
    wanted = list(kinds) if kinds is not None else [kind.name for kind in found.kinds]
    pairs = [
        (kind, r.name)
        for kind in wanted
        for r in found.registry(kind)
        if plugin is None or r.plugin == plugin
    ]
    marks = marks or {}
    cases = [pytest.param(k, n, marks=marks.get((k, n), ()), id=f"{k}-{n}") for k, n in pairs]
    return pytest.mark.parametrize(("kind", "name"), cases)
