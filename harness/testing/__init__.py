"""Conformance checks for phasebench components: what a plugin author runs on a plugin.

Every kind of component has a contract (``phasebench.hookspecs``, ``docs/plugins.md``); the
checks here exercise it on tiny inputs and raise :class:`ConformanceError` (an
``AssertionError``, so pytest shows it as a failed assertion) naming the component and the
broken promise. The built-in components pass them; ``tests/test_conformance.py`` proves it.

Entry points:

- ``check_component(kind, name, components=None, options=None, models=None) -> str``: check one
  registered component; returns ``"passed"`` or ``"skipped: <why>"`` (a dataset whose files are
  not on this machine), raises :class:`ConformanceError` on a violation.
- ``check_plugin(plugin) -> PluginReport``: load one plugin (an installed entry-point name, a
  module, or an importable module name) next to the built-ins and check everything it
  registers; initializations are also run on the plugin's own models.
- ``parametrize_components(kinds=None, plugin=None)``: a ``pytest.mark.parametrize`` over
  ``(kind, name)`` of the registered components, for a plugin's own test suite.
- ``python -m phasebench.testing [PLUGIN ...]``: check installed plugins by entry-point name
  (default: every one), exit 1 on any failure.

Nothing is downloaded: datasets load with ``PHASEBENCH_OFFLINE=1``. Importing this module does
not import torch; the checks do, when they run.

One module per job: ``common`` (ConformanceError, constants, shared helpers); one check per
kind in ``models``, ``initializations``, ``losses``, ``optimizers``, ``estimators``,
``datasets``, ``executors``, ``schedules``, ``loggers``; ``components`` (check_component,
dispatching by kind);
``reports`` (CheckResult, PluginReport); ``plugin_checks`` (check_plugin,
check_registrations); ``parametrize`` (parametrize_components); ``cli`` (main).
"""

from __future__ import annotations

from phasebench.testing.cli import main
from phasebench.testing.common import MODEL_INPUT_SHAPES, ConformanceError
from phasebench.testing.components import check_component
from phasebench.testing.datasets import check_dataset
from phasebench.testing.estimators import check_estimator
from phasebench.testing.executors import check_executor
from phasebench.testing.initializations import check_initialization
from phasebench.testing.loggers import check_logger
from phasebench.testing.losses import check_loss
from phasebench.testing.models import check_model
from phasebench.testing.optimizers import check_optimizer
from phasebench.testing.parametrize import parametrize_components
from phasebench.testing.plugin_checks import check_plugin, check_registrations
from phasebench.testing.reports import CheckResult, PluginReport
from phasebench.testing.schedules import check_schedule

__all__ = [
    "ConformanceError",
    "CheckResult",
    "PluginReport",
    "MODEL_INPUT_SHAPES",
    "check_component",
    "check_dataset",
    "check_estimator",
    "check_executor",
    "check_initialization",
    "check_logger",
    "check_loss",
    "check_model",
    "check_optimizer",
    "check_plugin",
    "check_schedule",
    "check_registrations",
    "parametrize_components",
    "main",
]
