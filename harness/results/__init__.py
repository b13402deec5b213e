"""phasebench's HDF5 results files: the records and the schema they derive (``records``,
``schema``), one JSON codec (``codec``), a writer that never leaves a half-written file behind
(``writer``), ``load(path)``, which returns plain Python/numpy objects with every checksum
verified (``reader``), the summaries the tables and figures read (``summary``) and the stored
per-point aggregates (``points.finalize``), and a file's tidy tables (``tables``:
``to_pandas``, ``to_xarray``, importing pandas / xarray only when called). Below the probe:
never imports torch or ``phasebench.probe``.
"""

from phasebench.results.reader import load
from phasebench.results.schema import SCHEMA_VERSION, run_record, scan_record
from phasebench.results.tables import to_pandas, to_xarray

__all__ = ["SCHEMA_VERSION", "load", "run_record", "scan_record", "to_pandas", "to_xarray"]
