"""``load(path)``: a results file as plain Python and numpy objects, every record's checksum
verified; a file this version cannot trust (damaged, foreign, from a newer schema) is refused
with one line."""

from __future__ import annotations

from pathlib import Path

import h5py

from phasebench.errors import UsageError
from phasebench.results import schema
from phasebench.results.records import TraceRecord


class Results(dict):
    """What ``load`` returns: a dict (``"attrs"``, ``"scans"``, ``"points"``, ``"failures"``,
    ``"traces"``) whose ``traces`` attribute is its list of ``TraceRecord``."""

    @property
    def traces(self) -> list[TraceRecord]:
        return self["traces"]


class DamagedFileError(UsageError):
    """A results file that is not what it claims: a record fails its checksum, a name or
    attribute is missing, the HDF5 structure is broken."""


class _Damage(Exception):
    """Inside the reader: what is wrong with a record (load adds the file's name)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def check_header(path: Path, f: h5py.File) -> int:
    """The file's schema version; a foreign or damaged file, or a newer schema, raises a
    one-line error."""
    try:
        fmt = schema.attr(f.attrs.get("format"))
        version = schema.attr(f.attrs.get("schema_version"))
    except Exception as exc:  # h5py raises many kinds on a broken header
        raise DamagedFileError(
            f"{path} is damaged: its header cannot be read ({_first_line(exc)})"
        ) from None
    if fmt != schema.FORMAT:
        raise UsageError(f"{path} is not a phasebench results file")
    if not isinstance(version, int) or isinstance(version, bool):
        raise DamagedFileError(f"{path} is damaged: no valid schema_version ({version!r})")
    if version not in schema.READABLE_VERSIONS:
        newest = max(schema.READABLE_VERSIONS)
        raise UsageError(
            f"{path} has schema version {version}; this phasebench reads versions up to "
            f"{newest}: upgrade phasebench to read it"
        )
    return version


def open_results(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such results file: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise UsageError(f"{path} is not a readable HDF5 file ({exc})") from None


def load(path: str | Path) -> Results:
    """Read a phasebench results file.

    Returns ``{"attrs": {...}, "scans": {scan_id: scan}, "points": {point_id: point},
    "failures": {task_id: failure}, "spectra": {spectrum_id: spectrum}, "traces":
    [TraceRecord, ...]}`` (``load(path).traces`` too) where a scan is its attributes
    (``config`` and ``constants`` decoded from JSON) plus ``"runs": {run_id: run}``, and a run
    is its attributes plus its per-step numpy arrays (a spectrum: its attributes, ``nodes`` and
    ``weights``). Files written by a killed process load too: every finished
    run is there. ``schema.scan_record``/``schema.run_record`` turn a scan or run into its
    record. A damaged or foreign file, or one of a newer schema, raises a one-line UsageError.
    """
    path = Path(path)
    with open_results(path) as f:
        version = check_header(path, f)
        try:
            return _read(f, version >= 2)
        except _Damage as exc:
            raise DamagedFileError(f"{path} is damaged: {exc}; it cannot be trusted") from None
        except Exception as exc:  # h5py raises many kinds on a broken structure
            raise DamagedFileError(
                f"{path} is damaged ({_first_line(exc)}); it cannot be trusted"
            ) from None


def _verified(name: str, group: h5py.Group, required: bool, where: str) -> h5py.Group:
    problem = schema.verify(name, group, required)
    if problem:
        raise _Damage(f"{where} {problem}")
    return group


def _read(f: h5py.File, checksums: bool) -> Results:
    result = Results(
        attrs=schema.read_attrs(f),
        scans={},
        points={},
        failures={},
        spectra={},
        traces=_traces(f, checksums),
    )
    for scan_id, scan in f.get(schema.SCANS, {}).items():
        _verified(scan_id, scan, checksums, f"scan {scan_id}")
        record = schema.read_fields(scan, schema.SCAN_FIELDS, schema.SCAN_JSON)
        record["runs"] = {}
        for run_id, run in scan.get(schema.RUNS, {}).items():
            _verified(run_id, run, checksums, f"run {run_id} of scan {scan_id}")
            record["runs"][run_id] = schema.read_fields(run, schema.RUN_FIELDS, schema.RUN_JSON)
        stored_runs = record.get("runs_written")
        if stored_runs is not None and stored_runs != len(record["runs"]):
            raise _Damage(
                f"scan {scan_id} was completed with {stored_runs} runs but holds "
                f"{len(record['runs'])}"
            )
        result["scans"][scan_id] = record
    for point_id, point in f.get(schema.POINTS, {}).items():
        _verified(point_id, point, checksums, f"point {point_id}")
        result["points"][point_id] = schema.read_attrs(point, schema.POINT_JSON)
    for task_id, failure in f.get(schema.FAILURES, {}).items():
        _verified(task_id, failure, checksums, f"failure {task_id}")
        result["failures"][task_id] = schema.read_attrs(failure, schema.FAILURE_JSON)
    for spectrum_id, spectrum in f.get(schema.SPECTRA, {}).items():
        _verified(spectrum_id, spectrum, checksums, f"spectrum {spectrum_id}")
        result["spectra"][spectrum_id] = schema.read_fields(
            spectrum, schema.SPECTRUM_FIELDS, schema.SPECTRUM_JSON
        )
    return result


def _traces(f: h5py.File, checksums: bool) -> list[TraceRecord]:
    out = []
    for scan_id, scan in f.get(schema.TRACES, {}).items():
        for trace_id, group in scan.items():
            _verified(trace_id, group, checksums, f"trace {trace_id}")
            stored = schema.read_fields(group, schema.TRACE_FIELDS, schema.TRACE_JSON)
            out.append(schema.trace_record(trace_id, scan_id, stored))
    return out


def read_checkpoint(path: str | Path, trace: TraceRecord) -> bytes:
    """The checkpoint stored with ``trace`` (what resuming it needs), verified; empty bytes
    when there is none (a finished trace)."""
    path = Path(path)
    with open_results(path) as f:
        group = f.get(f"{schema.TRACES}/{trace.scan_id}/{trace.trace_id}")
        if group is None:
            return b""
        _check(schema.verify(trace.trace_id, group, True), path, trace.trace_id)
        if schema.CHECKPOINT not in group:
            return b""
        return group[schema.CHECKPOINT][()].tobytes()


def _check(problem: str | None, path: Path, trace_id: str) -> None:
    if problem:
        raise DamagedFileError(f"{path} is damaged: trace {trace_id} {problem}")
