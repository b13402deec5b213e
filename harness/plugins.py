"""Loading plugins: entry points in the ``phasebench`` group, built-ins included.

The built-in plugins are entry points of the ``phasebench`` distribution itself, loaded by the
same code as any third-party package. Loading is robust:

- a plugin that fails to import, or whose hook raises, is recorded (name, distribution, error)
  and the others keep working; ``PHASEBENCH_STRICT_PLUGINS=1`` makes that an error;
- two plugins registering the same component name is an error naming both;
- ``PHASEBENCH_DISABLE_PLUGINS=a,b`` blocks plugins by entry-point name;
- ``PHASEBENCH_LOAD_PLUGINS=a,b`` loads only those (besides the built-ins); set but empty, only
  the built-ins load.

Nothing here imports torch: plugins register lazy ``"module:attr"`` references.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from phasebench import hookspecs
from phasebench import kinds as kind_table
from phasebench.errors import PluginError
from phasebench.kinds import Kind
from phasebench.options import Option, declared_options
from phasebench.registry import KINDS, Registration, Registry

#: The hook through which a plugin declares a kind of its own.
KINDS_HOOK = "register_kinds"

ENTRY_POINT_GROUP = "phasebench"
BUILTIN_DISTRIBUTION = "phasebench"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    builtin: bool


@dataclass(frozen=True)
class PluginFailure:
    name: str
    distribution: str
    error: str

    def line(self) -> str:
        return (
            f"plugin {self.name!r} ({self.distribution or 'no distribution'}) failed: {self.error}"
        )


@dataclass
class Components:
    """Everything the loaded plugins registered, plus what failed to load; ``kinds`` are the
    core's (``phasebench.kinds``) followed by any a plugin declared."""

    kinds: list[Kind] = field(default_factory=lambda: list(kind_table.KINDS))
    registries: dict[str, Registry] = field(
        default_factory=lambda: {kind: Registry(kind) for kind in KINDS}
    )
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)

    def add_kind(self, kind: Kind) -> None:
        self.kinds.append(kind)
        self.registries[kind.name] = Registry(kind.name)

    def kind(self, word: str) -> Kind:
        """A kind by name or plural, the plugins' included; KeyError otherwise."""
        for kind in self.kinds:
            if word in (kind.name, kind.plural):
                return kind
        raise KeyError(word)

    def registry(self, kind: str) -> Registry:
        return self.registries[kind]

    def get(self, kind: str, name: str) -> Registration:
        return self.registries[kind].get(name)

    def load(self, kind: str, name: str) -> Any:
        return self.get(kind, name).load()


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=ENTRY_POINT_GROUP)


def _dist_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "", ""
    return dist.metadata["Name"] or "", dist.version or ""


def load_components(
    env: Mapping[str, str] | None = None,
    extra_plugins: Iterable[tuple[str, object]] = (),
) -> Components:
    """Load every plugin and collect its registrations.

    ``extra_plugins`` are (name, plugin object) pairs registered as if they came from an entry
    point of an unnamed distribution: tests and notebooks use it.
    """
    env = os.environ if env is None else env
    strict = env.get("PHASEBENCH_STRICT_PLUGINS", "") not in ("", "0")
    disabled = _names(env.get("PHASEBENCH_DISABLE_PLUGINS")) or set()
    load_only = _names(env.get("PHASEBENCH_LOAD_PLUGINS"))

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    components = Components()
    origin: dict[str, tuple[str, str]] = {}

    def fail(name: str, dist: str, error: str) -> None:
        failure = PluginFailure(name, dist, error)
        if strict:
            raise PluginError(failure.line() + " (PHASEBENCH_STRICT_PLUGINS=1)")
        components.failures.append(failure)

    candidates: list[tuple[str, str, str, Callable[[], object]]] = [
        (ep.name, *_dist_of(ep), ep.load) for ep in _entry_points()
    ]
    candidates += [(name, "", "", (lambda obj=obj: obj)) for name, obj in extra_plugins]
    # Built-ins first: a third party that takes a built-in's name is the one refused.
    candidates.sort(key=lambda c: c[1] != BUILTIN_DISTRIBUTION)

    for name, dist, version, load in candidates:
        builtin = dist == BUILTIN_DISTRIBUTION
        if name in disabled or (load_only is not None and not builtin and name not in load_only):
            continue
        if name in origin:
            fail(name, dist, f"plugin name already used by distribution {origin[name][0]!r}")
            continue
        try:
            pm.register(load(), name=name)
        except Exception as exc:  # a broken plugin must not take the host down
            if pm.get_plugin(name) is not None:
                pm.unregister(name=name)
            fail(name, dist, f"{type(exc).__name__}: {exc}")
            continue
        origin[name] = (dist, version)

    # The kinds first (a plugin may add one), then every hook name can be checked for typos.
    for name, (dist, _) in list(origin.items()):
        try:
            for kind in _plugin_kinds(pm, name, components):
                components.add_kind(kind)
                pm.add_hookspecs(_spec_of(kind))
        except Exception as exc:
            pm.unregister(name=name)
            fail(name, dist, f"register_kinds: {exc}")
            del origin[name]
    for name, (dist, _) in list(origin.items()):
        try:
            _check_hooks(pm, name, components)
        except PluginError as exc:
            pm.unregister(name=name)
            fail(name, dist, str(exc))
            del origin[name]

    for name, (dist, version) in origin.items():
        _register_plugin(pm, name, dist, version, components, fail)

    failed = {f.name for f in components.failures}
    for name, (dist, version) in origin.items():
        if name in failed:
            continue
        hooks = tuple(sorted(impl.name for impl in pm.get_hookcallers(pm.get_plugin(name)) or []))
        components.plugins.append(
            PluginInfo(name, dist, version, hooks, builtin=dist == BUILTIN_DISTRIBUTION)
        )
    return components


def _register_plugin(
    pm: pluggy.PluginManager,
    name: str,
    dist: str,
    version: str,
    components: Components,
    fail: Callable[[str, str, str], None],
) -> None:
    """Call every hook of one plugin; if any raises, or registers a name already taken, the
    plugin registers nothing at all (what it registered before is rolled back)."""
    plugin = pm.get_plugin(name)
    staged: list[Registration] = []
    for kind in components.kinds:
        for impl in getattr(pm.hook, kind.hook).get_hookimpls():
            if impl.plugin is not plugin:
                continue
            register = _registrar(kind.name, name, dist, version, staged.append)
            try:
                impl.function(register=register)
            except Exception as exc:
                fail(name, dist, f"{kind.hook} raised {type(exc).__name__}: {exc}")
                return
    added: list[Registration] = []
    for registration in staged:
        try:
            components.registries[registration.kind].add(registration)
        except PluginError as exc:
            for done in added:
                components.registries[done.kind].remove(done.name)
            fail(name, dist, str(exc))
            return
        added.append(registration)


def _check_hooks(pm: pluggy.PluginManager, name: str, components: Components) -> None:
    """A hook implementation whose name matches no spec is a typo: refuse the plugin."""
    plugin = pm.get_plugin(name)
    known = [KINDS_HOOK, *(kind.hook for kind in components.kinds)]
    for attr in dir(plugin):
        if pm.parse_hookimpl_opts(plugin, attr) is not None and attr not in known:
            raise PluginError(f"unknown hook {attr!r}; the hooks are: {', '.join(known)}")


def _plugin_kinds(pm: pluggy.PluginManager, name: str, components: Components) -> list[Kind]:
    """The kinds a plugin declares through ``register_kinds``, checked: a new name, plural and
    hook of the form ``register_<plural>``, and no ProbeConfig field (a plugin's kind is used
    by its own commands; the probe's kinds are the core's table)."""
    plugin = pm.get_plugin(name)
    found: list[Kind] = []
    impls = [i for i in pm.hook.register_kinds.get_hookimpls() if i.plugin is plugin]
    for impl in impls:
        impl.function(register=found.append)
    taken = {word for kind in components.kinds for word in (kind.name, kind.plural, kind.hook)}
    for kind in found:
        if not isinstance(kind, Kind):
            raise PluginError(f"register() takes a phasebench.kinds.Kind, got {kind!r}")
        clash = {kind.name, kind.plural, kind.hook} & taken
        if clash:
            raise PluginError(f"kind {kind.name!r}: {', '.join(sorted(clash))} is taken")
        if kind.hook != f"register_{kind.plural.replace('-', '_')}":
            raise PluginError(f"kind {kind.name!r}: its hook must be named register_{kind.plural}")
        if kind.field is not None:
            raise PluginError(f"kind {kind.name!r}: a plugin's kind cannot add a probe field")
        taken |= {kind.name, kind.plural, kind.hook}
    return found


def _spec_of(kind: Kind) -> object:
    """The hook spec of a plugin's kind: ``register_<plural>(register)``, like every kind's."""

    def spec(register: Callable[..., None]) -> None:
        """Register components of a kind a plugin declared."""

    spec.__name__ = spec.__qualname__ = kind.hook
    return types.SimpleNamespace(**{kind.hook: hookspecs.hookspec(spec)})


def _registrar(
    kind: str, plugin: str, dist: str, version: str, stage: Callable[[Registration], None]
) -> Callable[..., None]:
    def register(
        name: str,
        component: Any,
        description: str = "",
        defaults: Mapping[str, Any] | None = None,
        options: Sequence[Option] | None = None,
        cpu_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        where = f"plugin {plugin!r} registering {kind} {name!r}"
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r}: a {kind} name must be a non-empty string")
        if isinstance(component, str) and ":" not in component:
            raise PluginError(f"{where}: a lazy reference must look like 'package.module:attr'")
        stage(
            Registration(
                kind=kind,
                name=name,
                description=description.strip().splitlines()[0] if description.strip() else "",
                target=component,
                declared=declared_options(options, defaults, where),
                plugin=plugin,
                distribution=dist,
                version=version,
                cpu_defaults=_cpu_defaults(cpu_defaults, kind, where),
            )
        )

    return register


def _cpu_defaults(
    given: Mapping[str, Any] | None, kind: str, where: str
) -> tuple[tuple[str, Any], ...]:
    """``cpu_defaults={"sharpness_examples": 256, ...}`` as pairs: a model's only, keyed by
    study parameters (``phasebench.probe.parameters`` checks the names when it applies them),
    each value a plain number, string or boolean."""
    if not given:
        return ()
    if kind != "model":
        raise PluginError(f"{where}: cpu_defaults is a model's; a {kind} cannot declare them")
    if not isinstance(given, Mapping):
        raise PluginError(f"{where}: cpu_defaults must be a dict of parameter -> value")
    for key, value in given.items():
        if not isinstance(key, str) or not isinstance(value, (bool, int, float, str)):
            raise PluginError(
                f"{where}: cpu_defaults {key!r}: {value!r}; give a parameter name and a number, "
                "string or boolean"
            )
    return tuple(given.items())


_cached: Components | None = None


def components() -> Components:
    """The process-wide components, loaded on first use (``reset()`` forgets them)."""
    global _cached
    if _cached is None:
        _cached = load_components()
    return _cached


def reset() -> None:
    """Forget the loaded components (tests, and after installing a plugin in-process)."""
    global _cached
    _cached = None
