"""Deprecated home of the records: they live in ``phasebench.results.records`` (torch-free,
below the probe). Kept so code importing them from here keeps working."""

from phasebench.analysis.phases import RunSummary, summarize
from phasebench.results.records import RunRecord, ScanRecord

__all__ = ["RunRecord", "RunSummary", "ScanRecord", "summarize"]
