"""phasebench: the 10-step phase probe of early training, for any model, dataset and estimator.

Public API (importing this package never imports torch):

- ``hookimpl``: the marker plugin authors decorate their hook implementations with.
- ``Option``: how a plugin declares one option of a component (``phasebench.options``).
- ``sharpness(...)``: the top Hessian eigenvalue(s) of a loss for any ``torch.nn.Module``.
- ``__version__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phasebench._version import __version__
from phasebench.hookspecs import hookimpl
from phasebench.options import Option

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.hessian.result import SharpnessResult

__all__ = ["Option", "__version__", "hookimpl", "sharpness"]


def sharpness(*args: Any, **kwargs: Any) -> SharpnessResult:
    """Measure the sharpness of ``loss(model(inputs), targets)``; see ``phasebench.hessian.api``."""
    from phasebench.hessian.api import sharpness as _sharpness

    return _sharpness(*args, **kwargs)
