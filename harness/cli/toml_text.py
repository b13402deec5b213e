"""TOML text for the values a configuration holds (str, int, float, bool, lists, tables):
what ``phasebench show FILE --config`` prints and ``--config`` reads back (``tomllib``) to the
same values. None has no TOML form: a key whose value is None is left out."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def key(name: str) -> str:
    return name if _BARE.match(name) else string(name)


def string(text: str) -> str:
    # JSON's escapes are TOML's; DEL is the one control character JSON leaves raw
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def value(item: Any) -> str:
    """One value inline: ``"he"``, ``4``, ``0.1``, ``true``, ``[1, 2]``, ``{ a = 1 }``."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if math.isnan(item):
            return "nan"
        if math.isinf(item):
            return "inf" if item > 0 else "-inf"
        return repr(item)  # the shortest text that reads back to the same float
    if isinstance(item, str):
        return string(item)
    if isinstance(item, Mapping):
        inner = ", ".join(f"{key(k)} = {value(v)}" for k, v in item.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(item, (list, tuple)):
        if any(v is None for v in item):
            raise ValueError("TOML has no null: a list cannot hold None")
        return "[" + ", ".join(value(v) for v in item) + "]"
    raise TypeError(f"no TOML form for {type(item).__name__} {item!r}")


def dumps(data: Mapping[str, Any]) -> str:
    """A document: the plain keys first, then one ``[table]`` per non-empty mapping value (an
    empty one is left out, like None)."""
    lines = [f"{key(k)} = {value(v)}" for k, v in data.items() if _plain(v)]
    for name, table in data.items():
        if isinstance(table, Mapping) and table:
            lines += ["", f"[{key(name)}]"]
            lines += [f"{key(k)} = {value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def _plain(item: Any) -> bool:
    return item is not None and not isinstance(item, Mapping)
