"""Where dataset files are looked for, in order.

1. the user's data folder: ``--data-dir`` (the ``data_dir`` argument) or else ``$PHASEBENCH_DATA``;
2. the user cache: ``$XDG_CACHE_HOME/phasebench`` (default ``~/.cache/phasebench``), where
   ``phasebench data fetch`` stores downloads;
3. known system locations, e.g. ``/usr/share/datasets/fashion-mnist`` (Debian's
   ``dataset-fashion-mnist``).

Inside each root a dataset lists the sub-folders it may sit in (torchvision's layout among them,
e.g. ``FashionMNIST/raw``) and every file is accepted as is or gzipped (``name.gz``).
Downloading, the last resort, lives in ``download.py``; ``PHASEBENCH_OFFLINE=1`` turns it off.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ENV_DATA = "PHASEBENCH_DATA"
ENV_OFFLINE = "PHASEBENCH_OFFLINE"


@dataclass(frozen=True)
class SearchRoot:
    """A folder searched for data files, and what it is (shown in messages)."""

    label: str
    path: Path


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user cache for datasets: ``$XDG_CACHE_HOME/phasebench`` or ``~/.cache/phasebench``."""
    base = _env(env).get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "phasebench"


def user_data_dir(
    data_dir: str | Path | None, env: Mapping[str, str] | None = None
) -> SearchRoot | None:
    """``--data-dir`` if given, else ``$PHASEBENCH_DATA`` if set, else None."""
    if data_dir is not None and str(data_dir) != "":
        return SearchRoot("--data-dir", Path(data_dir).expanduser())
    value = _env(env).get(ENV_DATA, "")
    return SearchRoot(f"${ENV_DATA}", Path(value).expanduser()) if value else None


def search_roots(
    data_dir: str | Path | None,
    system_dirs: Iterable[str | Path] = (),
    env: Mapping[str, str] | None = None,
) -> list[SearchRoot]:
    """The roots searched, in order."""
    roots = [root for root in [user_data_dir(data_dir, env)] if root is not None]
    roots.append(SearchRoot("cache", cache_dir(env)))
    roots += [SearchRoot("system", Path(d)) for d in system_dirs]
    return roots


def store_root(data_dir: str | Path | None, env: Mapping[str, str] | None = None) -> Path:
    """Where downloads go: the user's data folder if one is given, else the cache."""
    root = user_data_dir(data_dir, env)
    return root.path if root is not None else cache_dir(env)


def find_file(name: str, subdirs: Sequence[str], roots: Sequence[SearchRoot]) -> Path | None:
    """The first ``root/subdir/name`` or ``root/subdir/name.gz`` that is a file, else None."""
    for root in roots:
        for subdir in subdirs:
            folder = root.path / subdir if subdir else root.path
            for candidate in (name, f"{name}.gz"):
                path = folder / candidate
                if path.is_file():
                    return path
    return None


def offline(env: Mapping[str, str] | None = None) -> bool:
    """True when ``PHASEBENCH_OFFLINE`` is set to anything but '' or '0'."""
    return _env(env).get(ENV_OFFLINE, "") not in ("", "0")


def describe(roots: Sequence[SearchRoot], subdirs: Sequence[str]) -> str:
    """``--data-dir /d, cache /c, system /s (in ., FashionMNIST/raw)`` for messages."""
    where = ", ".join(f"{root.label} {root.path}" for root in roots)
    return f"{where} (in each: {', '.join(s or '.' for s in subdirs)})"
