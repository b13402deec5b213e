"""The science of a results file, in one place and without torch: the phase rules (what a run
crossed: a loss catapult, a sharpness catapult, a barrier, a divergence), the critical constants
of a scan, their aggregates over seeds (lower bounds kept) and the labels of components and
points. The bisect search, the tables, ``show --json`` and the figures all call it.

- ``phasebench.analysis.phases``: ``RunSummary``, ``summarize``, the predicates, ``phase_of``,
  ``Constant``, ``critical_constants``.
- ``phasebench.analysis.aggregates``: ``Aggregate``, ``aggregate``, ``aggregate_values``.
- ``phasebench.analysis.labels``: ``component_label``, ``point_label``, ``config_items``,
  ``describe``.
- ``phasebench.analysis.regimes``: ``label`` (the four regimes of a long trajectory and its
  edge-of-stability statistics), ``Regimes``, ``Regime``, ``Rules`` (docs/regimes.md).
- ``phasebench.analysis.regime_text``: ``format_regimes``, a trace's regimes in one line.
"""

from phasebench.analysis.aggregates import Aggregate, aggregate, aggregate_values
from phasebench.analysis.phases import (
    NAMES,
    Constant,
    RunSummary,
    critical_constants,
    phase_of,
    summarize,
)

__all__ = [
    "NAMES",
    "Aggregate",
    "Constant",
    "RunSummary",
    "aggregate",
    "aggregate_values",
    "critical_constants",
    "phase_of",
    "summarize",
]
