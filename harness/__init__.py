"""phasebench: the 10-step phase probe of early training, for any model, dataset and estimator.

Public API (importing this package never imports torch):

- ``hookimpl``: the marker plugin authors decorate their hook implementations with.
- ``Option``: how a plugin declares one option of a component (``phasebench.options``).
- ``sharpness(...)``: the top Hessian eigenvalue(s) of a loss for any ``torch.nn.Module``.
- ``probe(...)``, ``sweep(...)``, ``trace(...)``: the phase probe and long runs from Python,
  returning ``Results`` (``phasebench.api``, docs/api.md).
- ``__version__``.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any

from phasebench._version import __version__
from phasebench.hookspecs import hookimpl
from phasebench.options import Option

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.hessian.result import SharpnessResult

__all__ = [
    "Option",
    "Results",
    "__version__",
    "hookimpl",
    "probe",
    "sharpness",
    "sweep",
    "trace",
]


def sharpness(*args: Any, **kwargs: Any) -> SharpnessResult:
    """Measure the sharpness of ``loss(model(inputs), targets)``; see ``phasebench.hessian.api``."""
    from phasebench.hessian.api import sharpness as _sharpness

    return _sharpness(*args, **kwargs)


def _api() -> Any:
    # By name: every module that reads ``phasebench.__version__`` imports this package, and
    # the API sits on top of the layers (pyproject's importlinter contract); the facade must
    # not make those modules depend on it.
    return importlib.import_module("phasebench.api")


class _CallableProbe(types.ModuleType):
    """``phasebench.probe`` is the probe's package and, called, the probe itself: the package
    attribute would otherwise hide a function of the same name once a submodule is imported."""

    def __call__(self, **parameters: Any) -> Any:  # phasebench.api.Results
        """The phase probe of one point; see ``phasebench.api.probe``."""
        return _api().probe(**parameters)


#: The probe's package (its __init__ imports nothing), made callable.
probe = importlib.import_module("phasebench.probe")
probe.__class__ = _CallableProbe


def sweep(**parameters: Any) -> Any:  # phasebench.api.Results
    """The probe over axes and seeds; see ``phasebench.api.sweep``."""
    return _api().sweep(**parameters)


def trace(**parameters: Any) -> Any:  # phasebench.api.Results
    """Long runs measured every K steps, their regimes labelled; see ``phasebench.api.trace``."""
    return _api().trace(**parameters)


def __getattr__(name: str) -> Any:
    if name == "Results":
        return _api().Results
    raise AttributeError(f"module 'phasebench' has no attribute {name!r}")
