"""The layout of a phasebench results file, derived from the records (``records.py``) and
driving both the writer and the reader: a field declared on a record is written and read here,
with nothing listed by hand. Changing a name is a schema change: bump ``SCHEMA_VERSION`` and
say so in docs/results.md.

::

    /                         attrs: format, schema_version, created, phasebench_version
    /scans/<scan_id>          attrs: the ScanRecord fields (config as JSON), seed, sgd_seed;
                                     when complete: complete, constants (JSON), sharp_eps,
                                     runs_written (how many runs it then holds); checksum
    /scans/<scan_id>/runs/<run_id>
                              attrs: the RunRecord's scalar and JSON fields; checksum
                              datasets: the RunRecord's arrays
    /points/<point_id>        attrs: config (JSON, c and seeds left out), label, scans (JSON
                                     list), aggregates (JSON), checksum
    /failures/<task_id>       attrs: config (JSON), error, attempts, checksum
    /spectra/<spectrum_id>    attrs: the SpectrumRecord's scalar and JSON fields; checksum
                              datasets: nodes, weights (schema 3)
    /traces/<scan_id>/<trace_id>
                              attrs: the TraceRecord's scalar and JSON fields; checksum
                              datasets: its per-measurement arrays (growing as it runs) and
                                        ``checkpoint`` (what --resume continues from; empty
                                        once the trace is finished)

``checksum`` (schema 2): the SHA-256 of the group's name, its other attributes and its datasets
(``group_checksum``); the reader verifies every one it finds and, in a schema 2 file, refuses a
group without one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from phasebench.results import codec
from phasebench.results.records import RunRecord, ScanRecord, SpectrumRecord, TraceRecord

FORMAT = "phasebench-results"
SCHEMA_VERSION = 5
#: The versions this reader understands (1: before checksums; 3: runs hold eta_t, scans
#: their curvature unit; spectra, per-step spectrum measurements; traces; 4: traces' per-layer
#: sharpness, smallest eigenvalue and critical sharpness; 5: traces' SLQ densities).
READABLE_VERSIONS = (1, 2, 3, 4, 5)

SCANS = "scans"
RUNS = "runs"
POINTS = "points"
FAILURES = "failures"
SPECTRA = "spectra"
TRACES = "traces"
CHECKSUM = "checksum"
#: The dataset of a trace's group that holds what resuming it needs (``torch.save`` bytes).
CHECKPOINT = "checkpoint"
#: Rows per chunk of a trace's growing datasets.
TRACE_CHUNK = 64

#: Attributes of a scan group beside its record's fields: the seeds (copied from the config,
#: for h5ls) and what ``complete_scan`` adds.
SCAN_DERIVED = ("seed", "sgd_seed")
SCAN_COMPLETION = ("complete", "constants", "sharp_eps", "runs_written")
POINT_JSON = ("config", "scans", "aggregates")
FAILURE_JSON = ("config",)


@dataclass(frozen=True)
class Field:
    name: str
    store: str  # "key", "parent", "attr", "json" or "array"
    since: int
    default: Any = dataclasses.MISSING


def fields_of(record: type) -> tuple[Field, ...]:
    out = []
    for f in dataclasses.fields(record):
        default = f.default
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory
        out.append(Field(f.name, f.metadata["store"], f.metadata.get("since", 1), default))
    return tuple(out)


SCAN_FIELDS = fields_of(ScanRecord)
RUN_FIELDS = fields_of(RunRecord)
SPECTRUM_FIELDS = fields_of(SpectrumRecord)
TRACE_FIELDS = fields_of(TraceRecord)


def names(record_fields: tuple[Field, ...], store: str) -> tuple[str, ...]:
    return tuple(f.name for f in record_fields if f.store == store)


RUN_ARRAYS = names(RUN_FIELDS, "array")
RUN_SCALARS = names(RUN_FIELDS, "attr")
SCAN_SCALARS = names(SCAN_FIELDS, "attr")
#: The JSON attributes of scans and runs (decoded by the reader).
SCAN_JSON = (*names(SCAN_FIELDS, "json"), "constants")
RUN_JSON = names(RUN_FIELDS, "json")
SPECTRUM_JSON = names(SPECTRUM_FIELDS, "json")
TRACE_JSON = names(TRACE_FIELDS, "json")


# -- writing ---------------------------------------------------------------------------------------
def _attr_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_fields(group: h5py.Group, record: Any, record_fields: tuple[Field, ...]) -> None:
    """Store every attr, json and array field of ``record`` on ``group``."""
    for f in record_fields:
        value = getattr(record, f.name)
        if f.store == "attr":
            group.attrs[f.name] = _attr_value(value)
        elif f.store == "json":
            group.attrs[f.name] = codec.dumps(value, exact=True)
        elif f.store == "array":
            group.create_dataset(f.name, data=np.asarray(value))


def _grow(group: h5py.Group, name: str, data: np.ndarray) -> None:
    """``group[name]`` holds ``data``: a resizable dataset, created on first use, grown and
    overwritten in place after (its chunks are reused, so the file does not grow with each
    rewrite)."""
    if name in group:
        dataset = group[name]
        if dataset.shape == data.shape and 0 in data.shape:
            return
        dataset.resize(data.shape[0], axis=0)
        if data.shape[0]:
            dataset[...] = data
        return
    if 0 in data.shape[1:]:  # (M, 0) or (0, 0): nothing measured, a plain empty dataset
        group.create_dataset(name, data=data)
        return
    chunk = (max(1, min(TRACE_CHUNK, data.shape[0] or 1)), *data.shape[1:])
    group.create_dataset(name, data=data, maxshape=(None, *data.shape[1:]), chunks=chunk)


def write_trace(group: h5py.Group, trace: TraceRecord, checkpoint: bytes | None) -> None:
    """Store a trace as it stands on its group (created or brought up to date), with its
    checkpoint (None: finished, the checkpoint emptied)."""
    for f in TRACE_FIELDS:
        value = getattr(trace, f.name)
        if f.store == "attr":
            group.attrs[f.name] = _attr_value(value)
        elif f.store == "json":
            group.attrs[f.name] = codec.dumps(value, exact=True)
        elif f.store == "array":
            _grow(group, f.name, np.asarray(value))
    blob = np.frombuffer(checkpoint or b"", dtype=np.uint8)
    if CHECKPOINT in group:
        group[CHECKPOINT].resize(blob.shape[0], axis=0)
        if blob.shape[0]:
            group[CHECKPOINT][...] = blob
    else:
        group.create_dataset(CHECKPOINT, data=blob, maxshape=(None,), chunks=(1 << 16,))


# -- reading ---------------------------------------------------------------------------------------
def attr(value: Any) -> Any:
    """An attribute as plain Python (bytes decoded, numpy scalars unwrapped)."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_attrs(node: h5py.HLObject, json_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    out = {}
    for name, value in node.attrs.items():
        if name == CHECKSUM:
            continue
        value = attr(value)
        out[name] = codec.loads(value) if name in json_keys else value
    return out


def read_fields(
    group: h5py.Group, record_fields: tuple[Field, ...], json_keys: tuple[str, ...]
) -> dict[str, Any]:
    """A record's group as a dict: its attributes (JSON decoded) and its datasets; a field the
    file predates takes its default."""
    out = read_attrs(group, json_keys)
    for f in record_fields:
        if f.store == "array":
            if f.name in group:
                out[f.name] = group[f.name][()]
            elif f.default is not dataclasses.MISSING:
                out[f.name] = f.default() if callable(f.default) else f.default
            else:
                raise KeyError(f"dataset {f.name!r} missing")
        elif f.store in ("attr", "json") and f.name not in out:
            if f.default is dataclasses.MISSING:
                raise KeyError(f"attribute {f.name!r} missing")
            out[f.name] = f.default() if callable(f.default) else f.default
    return out


def to_record(record: type, name: str, stored: Mapping[str, Any], parent: str | None = None):
    """The record a group holds, from ``read_fields``' dict (``name``: the group's name)."""
    values = {}
    for f in fields_of(record):
        if f.store == "key":
            values[f.name] = name
        elif f.store == "parent":
            values[f.name] = parent
        else:
            values[f.name] = stored[f.name]
    return record(**values)


def scan_record(scan_id: str, scan: Mapping[str, Any]) -> ScanRecord:
    """The ScanRecord of a scan as ``load`` returns it (a resumed scan reuses its lambda0)."""
    return to_record(ScanRecord, scan_id, scan)


def run_record(run_id: str, scan_id: str, run: Mapping[str, Any]) -> RunRecord:
    return to_record(RunRecord, run_id, run, scan_id)


def spectrum_record(spectrum_id: str, spectrum: Mapping[str, Any]) -> SpectrumRecord:
    return to_record(SpectrumRecord, spectrum_id, spectrum)


def trace_record(trace_id: str, scan_id: str, trace: Mapping[str, Any]) -> TraceRecord:
    return to_record(TraceRecord, trace_id, trace, scan_id)


# -- integrity -------------------------------------------------------------------------------------
def group_checksum(name: str, group: h5py.Group) -> str:
    """SHA-256 of a group's name, its attributes (but ``checksum``) and its datasets."""
    digest = hashlib.sha256(name.encode())
    for key in sorted(group.attrs):
        if key == CHECKSUM:
            continue
        value = attr(group.attrs[key])
        text = json.dumps(codec.plain(value, exact=True), sort_keys=True, allow_nan=True)
        digest.update(f"\0a{key}\0{type(value).__name__}\0{text}".encode())
    for key in sorted(group):
        item = group[key]
        if isinstance(item, h5py.Dataset):
            data = np.ascontiguousarray(item[()])
            digest.update(f"\0d{key}\0{data.dtype.str}\0{data.shape}\0".encode())
            digest.update(data.tobytes())
    return digest.hexdigest()


def seal(name: str, group: h5py.Group) -> None:
    group.attrs[CHECKSUM] = group_checksum(name, group)


def verify(name: str, group: h5py.Group, required: bool) -> str | None:
    """Why ``group`` cannot be trusted, or None."""
    stored = group.attrs.get(CHECKSUM)
    if stored is None:
        return "has no checksum" if required else None
    if attr(stored) != group_checksum(name, group):
        return "fails its checksum"
    return None
