"""The HVP backend choice, kept on disk so that only the first process calibrates.

``HessianOperator(backend="auto")`` times every backend once per key (build + 2 products each;
about 0.9 CPU s on the default probe, most of it the first ``jvp`` compiling torch's
forward-AD decompositions) and keeps the order, fastest first. This module stores that order
in one small JSON file so that the next process with the same key reads it instead. The key
is what decides the timing: the torch version, the device (its name on CUDA) and thread
count, the dtype, the model's class and parameter shapes, the loss, the mode and the batch
shapes (``HessianOperator`` builds it).

Where: ``$PHASEBENCH_CACHE`` if set, else ``$XDG_CACHE_HOME/phasebench`` (default
``~/.cache/phasebench``), file ``hvp-backends.json``. ``phasebench cache clear`` (or
``phasebench.hessian.operator.clear_backend_cache()``) forgets it; a file that cannot be read
is ignored and one that cannot be written is not an error (the process then calibrates as
before). No torch import here: the ``cache`` command runs without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

FILE = "hvp-backends.json"
#: Bumped when the meaning of a stored entry changes: older files are then ignored.
FORMAT = 1


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$PHASEBENCH_CACHE``, else ``$XDG_CACHE_HOME/phasebench``, else ``~/.cache/phasebench``."""
    env = os.environ if env is None else env
    if env.get("PHASEBENCH_CACHE"):
        return Path(env["PHASEBENCH_CACHE"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "phasebench"


def cache_file(env: Mapping[str, str] | None = None) -> Path:
    return cache_dir(env) / FILE


def digest(key: object) -> str:
    """A stable name for a key made of strings, numbers and tuples of them (and dtypes)."""
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


def _read(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def load(key: object) -> tuple[str, ...] | None:
    """The stored order of backends for ``key``, fastest first; None if none is stored."""
    order = _read(cache_file()).get(digest(key))
    if not isinstance(order, list) or not order or not all(isinstance(n, str) for n in order):
        return None
    return tuple(order)


def store(key: object, order: Sequence[str]) -> None:
    """Record ``order`` for ``key`` (atomically: a concurrent reader sees the old or the new
    file, never half of one). Failing to write is silent: the next process calibrates."""
    path = cache_file()
    entries = _read(path)
    entries[digest(key)] = list(order)
    _write(path, entries)


def forget(key: object) -> None:
    """Drop ``key``'s entry (its first backend failed later in this process)."""
    path = cache_file()
    entries = _read(path)
    if entries.pop(digest(key), None) is not None:
        _write(path, entries)


def _write(path: Path, entries: dict[str, list[str]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".hvp-backends-")
        with os.fdopen(handle, "w") as out:
            json.dump({"format": FORMAT, "entries": entries}, out)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(temporary)


def entries() -> int:
    """How many backend choices are stored."""
    return len(_read(cache_file()))


def clear() -> int:
    """Remove the stored choices; returns how many there were."""
    path = cache_file()
    count = len(_read(path))
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return count
