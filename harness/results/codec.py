"""The one JSON codec of phasebench results: what the writer stores in JSON attributes, what
``show --json`` and ``bench`` print.

- ``plain(value)``: JSON-ready Python (numpy scalars and arrays to numbers and lists, tuples to
  lists, records with ``to_dict`` or dataclasses to dicts, a non-finite float to ``None``).
- ``dumps(value)``: canonical JSON text (sorted keys) of ``plain(value)``; ``exact=True`` keeps
  non-finite floats (as ``NaN``/``Infinity``, which ``loads`` reads back), for values that must
  round-trip exactly, such as a configuration with ``divergence_threshold = inf``.
- ``loads(text)``: the inverse.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def plain(value: Any, exact: bool = False) -> Any:
    """``value`` as JSON-ready Python; non-finite floats become None unless ``exact``."""
    if hasattr(value, "to_dict") and not isinstance(value, type):
        return plain(value.to_dict(), exact)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value), exact)
    if isinstance(value, Mapping):
        return {str(k): plain(v, exact) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, exact) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), exact)
    if isinstance(value, np.generic):
        return plain(value.item(), exact)
    if isinstance(value, float) and not math.isfinite(value) and not exact:
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def dumps(value: Any, exact: bool = False, indent: int | None = None) -> str:
    return json.dumps(plain(value, exact), sort_keys=True, allow_nan=exact, indent=indent)


def loads(text: str | bytes) -> Any:
    return json.loads(text)
