"""The optional third-party libraries, imported only when a feature asks for one.

``require(module, extra, what)`` imports ``module`` or raises a one-line ``UsageError`` naming
the extra that installs it: ``to_pandas needs pandas: pip install 'phasebench[pandas]'``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from phasebench.errors import UsageError


class MissingExtraError(UsageError):
    """An optional library a feature needs is not installed."""


def install_hint(extra: str) -> str:
    return f"pip install 'phasebench[{extra}]'"


def require(module: str, extra: str, what: str) -> ModuleType:
    """``module`` imported, or a one-line ``MissingExtraError`` saying ``what`` needs it and
    which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.partition(".")[0]
        raise MissingExtraError(f"{what} needs {top}: {install_hint(extra)}") from None
