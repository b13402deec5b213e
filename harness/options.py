"""A component's options, declared once by its plugin.

A plugin registers each option with its default, type, allowed values and one line of help::

    register("fcn", "pkg.fcn:build", description="...", options=[
        Option("depth", 4, "Dense layers, the output layer included", ge=2),
        Option("activation", "relu", "hidden nonlinearity", choices=("relu", "tanh", "linear")),
    ])

From that one declaration ``phasebench list`` shows the options (without importing the
component), the registry validates what a user or a notebook passes, the CLI converts
``--depth 8`` to an int and the component receives every option, defaults merged in. The type
is taken from the default unless given; a default of None means "unset" and allows None.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from phasebench.errors import PluginError, UsageError

#: The types an option may have, by the name ``phasebench list --json`` shows.
TYPES: dict[str, type] = {
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "list": list,
    "dict": dict,
}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_NONE = ("none", "null")
_NOUNS = {
    "bool": "true or false",
    "int": "an integer",
    "float": "a finite number",
    "str": "a string",
    "list": "a list",
    "dict": "a mapping",
    "json": "a JSON value",
}


@dataclass(frozen=True)
class Option:
    """One option of a component: its name, default, one line of help, and what it accepts.

    ``type``: bool, int, float, str, list or dict (default: the default's type; a default of
    None with no type accepts any JSON value). ``choices``: the allowed values. ``ge``/``gt``/
    ``le``/``lt``: bounds for numbers (floats must also be finite). ``nullable``: None is
    allowed besides values of the type (always so when the default is None). ``since``: the
    version of the plugin that added the option to a component that existed before it; such an
    option is left out of a run's configuration (and so of its hashes) while it has its
    default, so runs recorded before it existed keep their names and still resume. The default
    must then reproduce what the component did without the option.
    """

    name: str
    default: Any = None
    help: str = ""
    type: type | None = None
    choices: Sequence[Any] | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    nullable: bool = False
    since: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise PluginError(f"option name {self.name!r} must be a Python identifier")
        if self.type is None and self.default is not None:
            object.__setattr__(self, "type", _type_of(self.default))
        if self.type is not None and self.type not in TYPES.values():
            names = ", ".join(TYPES)
            raise PluginError(f"option {self.name!r}: type must be one of {names}")
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))
        try:
            json.dumps(self.default, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PluginError(f"option {self.name!r}: the default must be JSON ({exc})") from exc
        if self.default is not None:
            self.check(self.default, "its default", error=PluginError)

    @property
    def type_name(self) -> str:
        if self.type is None:
            return "json"
        return next(name for name, t in TYPES.items() if t is self.type)

    def allows_none(self) -> bool:
        return self.nullable or self.default is None

    def check(self, value: Any, where: str, error: type[Exception] = UsageError) -> Any:
        """``value`` as the component receives it (an int for a float option becomes a float,
        a tuple a list); anything it does not accept is one line that names ``where`` (the
        component: "model 'fcn'"), the option and what it takes."""
        if value is None:
            if self.allows_none():
                return None
            raise error(f"{where}: {self.name} must be {self.expects()}, got None")
        converted = _as_type(value, self.type)
        if self.choices is not None and converted not in self.choices:
            allowed = ", ".join(map(_show, self.choices))
            raise error(f"{where}: unknown {self.name} {value!r}; choose one of: {allowed}")
        numeric = isinstance(converted, (int, float)) and not isinstance(converted, bool)
        if converted is _INVALID or (numeric and not self._within_bounds(converted)):
            raise error(f"{where}: {self.name} must be {self.expects()}, got {value!r}")
        return converted

    def parse(self, text: str, where: str) -> Any:
        """A value typed on the command line (``--depth 8``), converted and checked."""
        if self.allows_none() and text.strip().lower() in _NONE:
            return None
        return self.check(_from_text(text, self.type, self.default), where)

    def expects(self) -> str:
        """What the option takes, in words: 'a positive integer', 'a number in [0, 1)'."""
        if self.choices is not None:
            words = "one of " + ", ".join(map(_show, self.choices))
        elif self.type is int and (self.ge, self.gt, self.le, self.lt) == (1, None, None, None):
            words = "a positive integer"
        elif self.type is float and (self.ge, self.gt, self.le, self.lt) == (None, 0, None, None):
            words = "a positive number"
        else:
            # a bounded float reads best as its bounds alone: "in [0, 1)", "> 0"
            bounded = self.type is float and self._bounds()
            words = "" if bounded else _NOUNS[self.type_name]
            low = f"[{_show(self.ge)}" if self.ge is not None else None
            low = low or (f"({_show(self.gt)}" if self.gt is not None else None)
            high = f"{_show(self.le)}]" if self.le is not None else None
            high = high or (f"{_show(self.lt)})" if self.lt is not None else None)
            if low and high:
                words += f" in {low}, {high}"
            elif self._bounds():
                words += " " + " and ".join(self._bounds())
            words = words.strip()
        return words + (" or none" if self.allows_none() and self.type is not None else "")

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary (``phasebench list --json``)."""
        out: dict[str, Any] = {"name": self.name, "default": self.default, "type": self.type_name}
        out["help"] = self.help
        if self.choices is not None:
            out["choices"] = list(self.choices)
        for bound in ("ge", "gt", "le", "lt"):
            if getattr(self, bound) is not None:
                out[bound] = getattr(self, bound)
        if self.nullable:
            out["nullable"] = True
        if self.since is not None:
            out["since"] = self.since
        return out

    def _bounds(self) -> list[str]:
        signs = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        return [
            f"{sign} {_show(getattr(self, b))}" for b, sign in signs if getattr(self, b) is not None
        ]

    def _within_bounds(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return (
            (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
            and (self.lt is None or value < self.lt)
        )


def options_from_defaults(defaults: Mapping[str, Any] | None, where: str) -> tuple[Option, ...]:
    """The older declaration, ``defaults={"depth": 4}``: each default becomes an Option of its
    type, without help. Still accepted, so plugins written against it keep working."""
    if defaults is None:
        return ()
    if not isinstance(defaults, Mapping):
        raise PluginError(f"{where}: defaults must be a mapping, got {type(defaults).__name__}")
    try:
        json.dumps(dict(defaults))
    except TypeError as exc:
        raise PluginError(f"{where}: defaults must be JSON-serializable ({exc})") from exc
    try:
        return tuple(Option(str(name), value) for name, value in defaults.items())
    except PluginError as exc:
        raise PluginError(f"{where}: {exc}") from None


def declared_options(
    options: Sequence[Option] | None, defaults: Mapping[str, Any] | None, where: str
) -> tuple[Option, ...]:
    """A registration's options: ``options=[Option(...)]`` or the older ``defaults={...}``."""
    if options is not None and defaults is not None:
        raise PluginError(f"{where}: pass options=[Option(...)] or defaults={{...}}, not both")
    if options is None:
        return options_from_defaults(defaults, where)
    found = tuple(options)
    bad = [o for o in found if not isinstance(o, Option)]
    if bad:
        raise PluginError(f"{where}: options must be phasebench.Option objects, got {bad[0]!r}")
    names = [o.name for o in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PluginError(f"{where}: option {', '.join(map(repr, twice))} is declared twice")
    return found


_INVALID = object()


def _type_of(default: Any) -> type:
    for t in (bool, int, float, str, list, dict):
        if isinstance(default, t):
            return t
    if isinstance(default, tuple):
        return list
    if isinstance(default, Mapping):
        return dict
    raise PluginError(f"cannot tell the type of default {default!r}; pass type=")


def _as_type(value: Any, wanted: type | None) -> Any:
    if wanted is None:
        return value
    if wanted is bool:
        return value if isinstance(value, bool) else _INVALID
    if wanted is int:
        if isinstance(value, bool):
            return _INVALID
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return _INVALID
    if wanted is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _INVALID
        return float(value)
    if wanted is str:
        return value if isinstance(value, str) else _INVALID
    if wanted is list:
        return list(value) if isinstance(value, (list, tuple)) else _INVALID
    if wanted is dict:
        return dict(value) if isinstance(value, Mapping) else _INVALID
    return _INVALID


def _from_text(text: str, wanted: type | None, default: Any) -> Any:
    """The Python value a command-line string stands for; what cannot be read stays a string
    (and fails the type check with its own words)."""
    stripped = text.strip()
    try:
        if wanted is bool:
            lowered = stripped.lower()
            return True if lowered in _TRUE else False if lowered in _FALSE else text
        if wanted is int:
            return int(stripped)
        if wanted is float:
            return float(stripped)
        if wanted is str:
            return text
        if wanted is list:
            if stripped.startswith("["):
                return json.loads(stripped)
            parts = [p.strip() for p in stripped.split(",") if p.strip()]
            kinds = {type(v) for v in (default or [])}
            item = kinds.pop() if len(kinds) == 1 else None
            return [
                _from_text(p, item, None) if item is not None else _json_or_text(p) for p in parts
            ]
        if wanted is dict:
            return json.loads(stripped)
    except (ValueError, json.JSONDecodeError):
        return text
    return _json_or_text(stripped)


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
