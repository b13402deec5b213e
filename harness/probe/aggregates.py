"""Deprecated home of ``finalize``, a results-file operation: it lives in
``phasebench.results.points``. Kept so code importing it from here keeps working."""

from phasebench.results.points import finalize

__all__ = ["finalize"]
