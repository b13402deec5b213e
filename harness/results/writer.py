"""Writing results: the file is opened, written and closed for every record, so a process
killed between records leaves a complete, readable file holding every finished run."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from phasebench import __version__
from phasebench.errors import UsageError
from phasebench.probe.constants import Aggregate, Constant
from phasebench.probe.records import RunRecord, ScanRecord
from phasebench.results import schema


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def _finite_or_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


class ResultsWriter:
    """Appends scans, runs, constants and failures to one HDF5 file."""

    def __init__(self, path: str | Path, append: bool = True) -> None:
        self.path = Path(path)
        if not self.path.parent.exists():
            raise UsageError(
                f"cannot write {self.path}: directory {self.path.parent} does not exist; "
                "create it or pass another --out"
            )
        if self.path.exists() and not append:
            raise UsageError(f"{self.path} exists; pass --resume to append to it, or another --out")
        if self.path.exists():
            self._check_format()
        else:
            with self._open("w") as f:
                f.attrs["format"] = schema.FORMAT
                f.attrs["schema_version"] = schema.SCHEMA_VERSION
                f.attrs["created"] = _now()
                f.attrs["phasebench_version"] = __version__

    def _check_format(self) -> None:
        try:
            with h5py.File(self.path, "r") as f:
                fmt = f.attrs.get("format")
        except OSError as exc:
            raise UsageError(
                f"{self.path} is not a readable HDF5 file ({exc}); pass another --out"
            ) from None
        if fmt != schema.FORMAT:
            raise UsageError(f"{self.path} is not a phasebench results file; pass another --out")

    @contextmanager
    def _open(self, mode: str = "a") -> Iterator[h5py.File]:
        f = h5py.File(self.path, mode)
        try:
            yield f
            f.flush()
        finally:
            f.close()

    # -- records -------------------------------------------------------------------------------
    def write_scan(self, scan: ScanRecord) -> None:
        with self._open() as f:
            group = f.require_group(f"{schema.SCANS}/{scan.scan_id}")
            if "lambda0" in group.attrs:
                return
            group.attrs["config"] = _json(scan.config)
            group.attrs["point_id"] = scan.point_id
            group.attrs["seed"] = int(scan.config["seed"])
            group.attrs["sgd_seed"] = int(scan.config["sgd_seed"])
            for name in (
                "lambda0",
                "loss0",
                "lambda0_hvps",
                "lambda0_converged",
                "lambda0_seconds",
            ):
                group.attrs[name] = getattr(scan, name)
            group.attrs["complete"] = False
            group.require_group(schema.RUNS)

    def write_run(self, run: RunRecord) -> None:
        with self._open() as f:
            runs = f.require_group(f"{schema.SCANS}/{run.scan_id}/{schema.RUNS}")
            if run.run_id in runs:
                return  # never a duplicate
            group = runs.create_group(run.run_id)
            group.attrs["config"] = _json(run.config)
            for name in schema.RUN_SCALARS:
                group.attrs[name] = getattr(run, name)
            group.attrs["provenance"] = _json(run.provenance)
            for name in schema.RUN_ARRAYS:
                group.create_dataset(name, data=np.asarray(getattr(run, name)))

    def complete_scan(
        self, scan_id: str, constants: Mapping[str, Constant], sharp_eps: float
    ) -> None:
        """Mark a scan complete with its constants and the c_sharp threshold they used."""
        with self._open() as f:
            group = f[f"{schema.SCANS}/{scan_id}"]
            group.attrs["constants"] = _json(
                {
                    k: {"value": _finite_or_none(v.value), "status": v.status}
                    for k, v in constants.items()
                }
            )
            group.attrs["sharp_eps"] = float(sharp_eps)
            group.attrs["complete"] = True

    def write_point(
        self,
        point_id: str,
        config: Mapping[str, Any],
        label: str,
        scans: list[str],
        aggregates: Mapping[str, Aggregate],
    ) -> None:
        with self._open() as f:
            group = f.require_group(f"{schema.POINTS}/{point_id}")
            group.attrs["config"] = _json(config)
            group.attrs["label"] = label
            group.attrs["scans"] = _json(sorted(scans))
            group.attrs["aggregates"] = _json(
                {
                    k: {
                        n: (_finite_or_none(v) if isinstance(v, float) else v)
                        for n, v in asdict(a).items()
                    }
                    for k, a in aggregates.items()
                }
            )

    def write_failure(
        self, task_id: str, config: Mapping[str, Any], error: str, attempts: int
    ) -> None:
        with self._open() as f:
            group = f.require_group(f"{schema.FAILURES}/{task_id}")
            group.attrs["config"] = _json(config)
            group.attrs["error"] = error
            group.attrs["attempts"] = attempts
