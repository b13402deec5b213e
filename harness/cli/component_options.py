"""Component options on the command line, the one syntax of every command that takes
components (``run``, ``sweep``, ``sharpness``, ``bench`` and plugins' commands).

Every option a chosen component declares (``phasebench list``) can be given as ``--name value``:
``--depth 4 --width 256 --activation tanh --alpha 0.5``. A name two chosen components declare
must be qualified with the role that chose it: ``--opt model.width=256``. Each value is
converted and checked by the option's own declaration (type, choices, range).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from phasebench import kinds
from phasebench.errors import UsageError
from phasebench.plugins import Components
from phasebench.registry import Registration


def kind_of(role: str) -> str:
    """The kind a role names: a ProbeConfig field (``init``), a kind itself (``executor``),
    or a kind and the one of its components chosen several times over (``logger.mlflow``)."""
    try:
        return kinds.of_field(role).name
    except KeyError:
        return kinds.get(role.partition(".")[0]).name


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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
    """Route ``--name value`` and ``--opt role.name=value`` to the chosen components that
    declare them. ``names`` maps each role (a ProbeConfig field such as ``model``, a kind such
    as ``executor``, or ``logger.mlflow`` for one of several loggers) to the chosen
    component; ``skip`` names options handled elsewhere (a sweep's ``--depths``). Returns
    role -> {option: value}, values as the component takes them."""
    chosen: dict[str, Registration] = {
        role: components.get(kind_of(role), name) for role, name in names.items()
    }
    out: dict[str, dict[str, Any]] = {role: {} for role in chosen}
    for name, text in _pairs(extra):
        owners = [role for role, reg in chosen.items() if name in reg.defaults]
        if not owners:
            offered = sorted({k for reg in chosen.values() for k in reg.defaults} - set(skip))
            raise UsageError(
                f"no chosen component takes {_flag(name)}; their options are: "
                f"{', '.join(map(_flag, offered)) or 'none'}"
            )
        if len(owners) > 1:
            raise UsageError(
                f"{_flag(name)} is an option of {' and '.join(owners)}; say which with "
                f"--opt {owners[0]}.{name}={text}"
            )
        out[owners[0]][name] = _parse(chosen[owners[0]], name, text)
    for item in qualified:
        target, eq, text = item.partition("=")
        role, dot, name = target.rpartition(".")  # option names hold no dot; roles may
        if not eq or not dot or role not in chosen:
            raise UsageError(
                f"--opt {item!r} must look like ROLE.NAME=VALUE with ROLE one of "
                f"{', '.join(chosen)}"
            )
        name = name.replace("-", "_")
        chosen[role].option(name)  # an option it lacks: one line listing its options
        out[role][name] = _parse(chosen[role], name, text)
    return out


def _parse(registration: Registration, name: str, text: str) -> Any:
    return registration.option(name).parse(text, f"{registration.kind} {registration.name!r}")


def options_help(registration: Registration, sep: str = "; ") -> str:
    """Its options, one each: ``--depth 4 (a positive integer): Dense layers, ...``."""
    lines = []
    for option in registration.declared:
        default = "none" if option.default is None else _show(option.default)
        text = f"{_flag(option.name)} {default} ({option.expects()})"
        lines.append(f"{text}: {option.help}" if option.help else text)
    return sep.join(lines)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
