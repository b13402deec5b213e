"""``load(path)``: a results file as plain Python and numpy objects (the schema in schema.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from phasebench.errors import UsageError
from phasebench.results import schema


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _attrs(node: h5py.HLObject, json_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    out = {}
    for key, value in node.attrs.items():
        value = _attr(value)
        out[key] = json.loads(value) if key in json_keys else value
    return out


def load(path: str | Path) -> dict[str, Any]:
    """Read a phasebench results file.

    Returns ``{"attrs": {...}, "scans": {scan_id: scan}, "points": {point_id: point},
    "failures": {task_id: failure}}`` where a scan is its attributes (``config`` and
    ``constants`` decoded from JSON) plus ``"runs": {run_id: run}``, and a run is its attributes
    plus its per-step numpy arrays. Files written by a killed process load too: every finished
    run is there.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such results file: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise UsageError(f"{path} is not a readable HDF5 file ({exc})") from None
    with f:
        if _attr(f.attrs.get("format")) != schema.FORMAT:
            raise UsageError(f"{path} is not a phasebench results file")
        result: dict[str, Any] = {"attrs": _attrs(f), "scans": {}, "points": {}, "failures": {}}
        for scan_id, scan in f.get(schema.SCANS, {}).items():
            record = _attrs(scan, ("config", "constants"))
            record["runs"] = {}
            for run_id, run in scan.get(schema.RUNS, {}).items():
                run_record = _attrs(run, ("config", "provenance"))
                for name in schema.RUN_ARRAYS:
                    run_record[name] = run[name][()]
                record["runs"][run_id] = run_record
            result["scans"][scan_id] = record
        for point_id, point in f.get(schema.POINTS, {}).items():
            result["points"][point_id] = _attrs(point, ("config", "scans", "aggregates"))
        for task_id, failure in f.get(schema.FAILURES, {}).items():
            result["failures"][task_id] = _attrs(failure, ("config",))
    return result
