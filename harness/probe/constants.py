"""Deprecated home of the critical constants: the rules live in ``phasebench.analysis``
(``phases`` and ``aggregates``). Kept so code importing them from here keeps working."""

from phasebench.analysis.aggregates import Aggregate, aggregate
from phasebench.analysis.phases import NAMES, Constant, RunSummary, critical_constants

__all__ = ["NAMES", "Aggregate", "Constant", "RunSummary", "aggregate", "critical_constants"]
