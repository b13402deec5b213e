"""Registries: a name a user types maps to a component, its description and its options.

The host owns the registries; plugins only call ``register``. Lookups of unknown names fail with
one line saying what is unknown, the closest names and what is available.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from phasebench import kinds
from phasebench.errors import PluginError, UnknownComponentError, UsageError
from phasebench.options import Option

#: Kind name -> hook name, in the order ``phasebench list`` shows them (from ``phasebench.kinds``).
KINDS: dict[str, str] = {kind.name: kind.hook for kind in kinds.KINDS}


@dataclass(frozen=True)
class Registration:
    """One registered component: what ``phasebench list`` shows and what lookups return."""

    kind: str
    name: str
    description: str
    target: Any  # the component, or a lazy "module:attr" reference
    declared: tuple[Option, ...] = ()  # its options, in the order the plugin declared them
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    #: (study parameter, value) pairs a model runs practically with on a CPU when the user
    #: sets none of them (``register(..., cpu_defaults={...})``; applied by
    #: ``phasebench.probe.parameters.cpu_defaults``)
    cpu_defaults: tuple[tuple[str, Any], ...] = ()

    @property
    def defaults(self) -> dict[str, Any]:
        """Option name -> default, in declaration order."""
        return {option.name: option.default for option in self.declared}

    def option(self, name: str) -> Option:
        """The declared option ``name``; anything else is a one-line UsageError."""
        for option in self.declared:
            if option.name == name:
                return option
        raise UsageError(self._no_option(name))

    def _no_option(self, *names: str) -> str:
        known = ", ".join(o.name for o in self.declared) or "none"
        return (
            f"{self.kind} {self.name!r} has no option {', '.join(map(repr, names))}; "
            f"its options are: {known}"
        )

    def load(self) -> Any:
        """The component itself, importing a lazy ``"module:attr"`` reference on first use."""
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"{self.kind} {self.name!r} from plugin {self.plugin!r} points at "
                f"{self.target!r}, which cannot be loaded ({type(exc).__name__}: {exc}); "
                f"fix or reinstall {self.distribution or self.plugin}"
            ) from exc
        return obj

    def options(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every option as the component receives it: the defaults updated with ``given``,
        each checked against its declaration (type, choices, range); an option the component
        lacks, or a value it does not accept, is a one-line UsageError."""
        given = dict(given or {})
        unknown = [name for name in given if name not in self.defaults]
        if unknown:
            raise UsageError(self._no_option(*unknown))
        out = self.defaults
        for name, value in given.items():
            out[name] = self.option(name).check(value, f"{self.kind} {self.name!r}")
        return out

    def stored(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The options as a configuration stores (and hashes) them: ``options(given)`` less
        each option declared with ``since`` that has its default, so adding an option to a
        component renames none of its earlier runs. ``options`` merges them back in."""
        out = self.options(given)
        for option in self.declared:
            if option.since is not None and out[option.name] == option.default:
                del out[option.name]
        return out

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary (what ``phasebench list --json`` prints)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "description": self.description,
            "defaults": self.defaults,
            "options": [option.describe() for option in self.declared],
            "cpu_defaults": dict(self.cpu_defaults),
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
        }


class Registry:
    """The components of one kind, keyed by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registration] = {}

    def add(self, registration: Registration) -> None:
        existing = self._entries.get(registration.name)
        if existing is not None:
            raise PluginError(
                f"{self.kind} {registration.name!r} is registered twice: by plugin "
                f"{existing.plugin!r} ({existing.distribution or 'unknown distribution'}) and by "
                f"plugin {registration.plugin!r} "
                f"({registration.distribution or 'unknown distribution'}); "
                "uninstall or disable one of them (PHASEBENCH_DISABLE_PLUGINS)"
            )
        self._entries[registration.name] = registration

    def remove(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Registration]:
        return iter(sorted(self._entries.values(), key=lambda r: r.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Registration:
        """The registration called ``name``; an unknown name is a one-line UnknownComponentError."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownComponentError(
                unknown_name_message(self.kind, name, self.names())
            ) from None


def unknown_name_message(kind: str, name: str, available: list[str]) -> str:
    """``unknown model 'rsenet'; did you mean 'resnet'? available: fcn, myrtle, resnet, uv``."""
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    listing = ", ".join(available) if available else "none (is a plugin missing?)"
    return f"unknown {kind} {name!r}{hint} available: {listing}"
