"""Component options on the command line.

Every option a chosen component declares (its ``defaults``, shown by ``phasebench list``) can be
given as ``--name value``: ``--depth 4 --width 256 --activation tanh --alpha 0.5``. A name two
chosen components declare must be qualified: ``--opt model.width=256``. Values are converted to
the type of the default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from phasebench.errors import UsageError
from phasebench.plugins import Components
from phasebench.probe.plan import FIELD_KINDS


def convert(value: str, default: Any, where: str) -> Any:
    try:
        if isinstance(default, bool):
            lowered = value.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return lowered in ("true", "1", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, str):
            return value
        if isinstance(default, list):
            parsed = json.loads(value) if value.startswith("[") else value.split(",")
            return [type(d)(p) for d, p in zip(default, parsed, strict=False)] or parsed
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # a default of None takes any string
    except (ValueError, json.JSONDecodeError):
        kind = type(default).__name__ if default is not None else "JSON value"
        raise UsageError(f"{where}: {value!r} is not a valid {kind}") from None


def _pairs(extra: Sequence[str]) -> list[tuple[str, str]]:
    pairs, i = [], 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--") or arg == "--":
            raise UsageError(
                f"unexpected argument {arg!r}; component options look like --name value"
            )
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise UsageError(f"option --{name} needs a value, e.g. --{name} 4")
            value = extra[i + 1]
            i += 1
        pairs.append((name.replace("-", "_"), value))
        i += 1
    return pairs


def component_options(
    components: Components,
    names: Mapping[str, str],
    extra: Sequence[str] = (),
    qualified: Sequence[str] = (),
    skip: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """Route ``--name value`` and ``--opt field.name=value`` to the components that declare
    them; ``skip`` names options handled elsewhere (a sweep's ``--depths``)."""
    defaults = {
        field: dict(components.get(kind, names[field]).defaults)
        for field, kind in FIELD_KINDS.items()
    }
    out: dict[str, dict[str, Any]] = {field: {} for field in FIELD_KINDS}
    for name, value in _pairs(extra):
        owners = [field for field in FIELD_KINDS if name in defaults[field]]
        if not owners:
            offered = sorted({k for d in defaults.values() for k in d} - set(skip))
            raise UsageError(
                f"no chosen component takes --{name.replace('_', '-')}; their options are: "
                f"{', '.join('--' + o.replace('_', '-') for o in offered) or 'none'}"
            )
        if len(owners) > 1:
            raise UsageError(
                f"--{name} is an option of {' and '.join(owners)}; say which with "
                f"--opt {owners[0]}.{name}={value}"
            )
        field = owners[0]
        out[field][name] = convert(value, defaults[field][name], f"--{name}")
    for item in qualified:
        target, eq, value = item.partition("=")
        field, dot, name = target.partition(".")
        if not eq or not dot or field not in FIELD_KINDS:
            raise UsageError(
                f"--opt {item!r} must look like FIELD.NAME=VALUE with FIELD one of "
                f"{', '.join(FIELD_KINDS)}"
            )
        name = name.replace("-", "_")
        if name not in defaults[field]:
            known = ", ".join(defaults[field]) or "none"
            raise UsageError(
                f"{field} {names[field]!r} has no option {name!r}; its options: {known}"
            )
        out[field][name] = convert(value, defaults[field][name], f"--opt {target}")
    return out
