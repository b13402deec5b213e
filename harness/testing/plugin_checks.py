"""Checking a whole plugin: resolve it (entry-point name, module or module name), load it next
to the built-ins, and check every component it registers into a :class:`PluginReport`; and
checking that the installed plugins load together (:func:`check_together`)."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from importlib import metadata
from types import ModuleType

from phasebench.errors import PhasebenchError, UsageError
from phasebench.plugins import ENTRY_POINT_GROUP, Components, load_components
from phasebench.registry import Registration
from phasebench.testing.common import PASSED, _first_line
from phasebench.testing.components import check_component
from phasebench.testing.reports import CheckResult, PluginReport


def _installed_plugin_names() -> list[str]:
    return sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})


def _resolve(plugin: str | ModuleType | object) -> tuple[str, list[tuple[str, object]]]:
    """(plugin name, extra plugins to load): an entry-point name loads as installed.

    A module name that exists but fails to import raises :class:`_ImportFailed`; one that does
    not exist is a UsageError listing the installed plugins.
    """
    if not isinstance(plugin, str):
        name = str(getattr(plugin, "__name__", type(plugin).__name__))
        return name, [(name, plugin)]
    if plugin in _installed_plugin_names():
        return plugin, []
    try:
        spec = importlib.util.find_spec(plugin)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        installed = ", ".join(_installed_plugin_names()) or "none"
        raise UsageError(
            f"{plugin!r} is neither an installed phasebench plugin nor an importable module; "
            f"installed plugins: {installed}"
        )
    try:
        module = importlib.import_module(plugin)
    except Exception as exc:  # the plugin's own import error: a problem to report
        raise _ImportFailed(f"plugin {plugin!r} failed to import: {_first_line(exc)}") from exc
    return plugin, [(plugin, module)]


class _ImportFailed(Exception):
    """A plugin module that exists but raises on import."""


def check_registrations(
    found: Components, registrations: Iterable[Registration], report: PluginReport
) -> PluginReport:
    """Check each registration into ``report``; initializations also on the plugin's models
    that pass their own check (a broken model fails as the model, never as the
    initialization tried on it)."""
    registrations = sorted(registrations, key=lambda r: r.kind != "model")  # models first
    models = {r.name: {} for r in registrations if r.kind == "model"}
    for registration in registrations:
        broken: list[str] = []
        tried_on = None
        if registration.kind == "initialization":
            broken = [r.name for r in report.failures if r.kind == "model" and r.name in models]
            tried_on = {name: options for name, options in models.items() if name not in broken}
        try:
            status = check_component(registration.kind, registration.name, found, models=tried_on)
        except AssertionError as exc:
            report.results.append(
                CheckResult(registration.kind, registration.name, "failed", str(exc))
            )
            continue
        except Exception as exc:  # any crash of a component is a failed check, reported
            report.results.append(
                CheckResult(
                    registration.kind,
                    registration.name,
                    "failed",
                    f"raised {_first_line(exc)}",
                )
            )
            continue
        if status == PASSED:
            note = ""
            if broken:
                names = ", ".join(repr(name) for name in broken)
                note = f"not tried on model {names}, which failed its own check"
            report.results.append(CheckResult(registration.kind, registration.name, PASSED, note))
        else:
            detail = status.partition(": ")[2]
            report.results.append(
                CheckResult(registration.kind, registration.name, "skipped", detail)
            )
    return report


def _registrations_of(found: Components, plugin: str) -> list[Registration]:
    return [r for kind in found.kinds for r in found.registry(kind.name) if r.plugin == plugin]


def check_plugin(plugin: str | ModuleType | object) -> PluginReport:
    """Load ``plugin`` with the built-ins only (``PHASEBENCH_LOAD_PLUGINS=<it>``) and check every
    component it registers. ``plugin``: an installed entry-point name, a module, or an
    importable module name. Load failures, name clashes and a plugin that registers nothing
    are reported as problems; never raises for what the plugin does."""
    try:
        name, extra = _resolve(plugin)
    except _ImportFailed as exc:
        return PluginReport(str(plugin), problems=[str(exc)])
    report = PluginReport(name)
    try:
        found = load_components(env={"PHASEBENCH_LOAD_PLUGINS": name}, extra_plugins=extra)
    except PhasebenchError as exc:
        report.problems.append(str(exc))
        return report
    report.problems += [f.line() for f in found.failures if f.name == name]
    registrations = _registrations_of(found, name)
    if not registrations and not report.problems:
        report.problems.append(f"plugin {name!r} registered no component")
    return check_registrations(found, registrations, report)


#: The name of the report on the installed plugins loaded together.
TOGETHER = "(installed plugins loaded together)"


def check_together(
    plugins: Iterable[str] | None = None, env: Mapping[str, str] | None = None
) -> PluginReport:
    """Load the installed plugins together, as every ``phasebench`` command does (``env``:
    the environment that decides what loads, default ``os.environ``), and report each plugin
    that fails there as a problem: two plugins that each pass alone may clash (both register
    initialization ``orthogonal``), and then the later one registers nothing. ``plugins``:
    report only the failures of these entry-point names, or that name one of them as the
    other side of a clash (None: every failure)."""
    found = load_components(env=env)
    wanted = None if plugins is None else set(plugins)
    report = PluginReport(TOGETHER)
    for failure in found.failures:
        involved = wanted is None or failure.name in wanted
        involved = involved or any(f"plugin {name!r}" in failure.error for name in wanted or ())
        if involved:
            report.problems.append(failure.line())
    return report
