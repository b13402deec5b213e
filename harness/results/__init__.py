"""phasebench's HDF5 results files: the stable schema (docs/results.md), a writer that never
leaves a half-written file behind, and ``load(path)``, which returns plain Python/numpy objects.
"""

from phasebench.results.reader import load
from phasebench.results.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "load"]
