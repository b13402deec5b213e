"""Writing results, one record at a time, so that nothing complete is ever lost.

Every record is one transaction: take the folder's lock (another writer of a file there waits,
with a message, up to ``lock_timeout`` seconds), copy the file beside itself, append the record
to the copy, flush it to disk and rename it over the file. A process killed, or a disk that
fills up, in the middle of a record leaves the file as it was before that record: readable,
with every finished run, and resumable. Two processes writing one file serialize on the lock
and never lose each other's records.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py

from phasebench import __version__
from phasebench.analysis.aggregates import Aggregate
from phasebench.analysis.phases import Constant
from phasebench.errors import PhasebenchError, UsageError
from phasebench.results import codec, reader, schema
from phasebench.results.records import RunRecord, ScanRecord, SpectrumRecord, TraceRecord

try:  # POSIX; elsewhere writers are not serialized
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: How long a writer waits for another writer of the same folder before giving up.
LOCK_TIMEOUT = 120.0


class DiskFullError(PhasebenchError):
    """The disk holding a results file is full; the file is as it was before the record."""


class LockTimeoutError(PhasebenchError):
    """Another process held a results file's lock for longer than the timeout."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _no_space(exc: BaseException) -> bool:
    text = str(exc)
    return (
        getattr(exc, "errno", None) == errno.ENOSPC
        or "No space left" in text
        or "errno = 28" in text
    )


class ResultsWriter:
    """Appends scans, runs, constants, points and failures to one HDF5 file.

    ``append=False`` refuses an existing file. ``on_wait`` is told once (one line) when another
    writer holds the lock; by default the line goes to stderr.
    """

    def __init__(
        self,
        path: str | Path,
        append: bool = True,
        lock_timeout: float = LOCK_TIMEOUT,
        on_wait: Callable[[str], None] | None = _say,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = float(lock_timeout)
        self.on_wait = on_wait
        if not self.path.parent.exists():
            raise UsageError(
                f"cannot write {self.path}: directory {self.path.parent} does not exist; "
                "create it or choose another output file"
            )
        if self.path.exists() and not append:
            raise UsageError(
                f"{self.path} exists; resume to append to it, or choose another output file"
            )
        with self._locked():
            if self.path.exists():
                self._check_format()
            else:
                self._create()

    # -- the file ----------------------------------------------------------------------------
    def _check_format(self) -> None:
        try:
            with h5py.File(self.path, "r") as f:
                reader.check_header(self.path, f)
        except OSError as exc:
            raise UsageError(
                f"{self.path} is not a readable HDF5 file ({exc}); choose another output file"
            ) from None
        except UsageError as exc:
            raise UsageError(
                f"{exc}; it is never appended to: choose another output file"
            ) from None

    def _create(self) -> None:
        def header(f: h5py.File) -> None:
            f.attrs["format"] = schema.FORMAT
            f.attrs["schema_version"] = schema.SCHEMA_VERSION
            f.attrs["created"] = _now()
            f.attrs["phasebench_version"] = __version__

        self._commit(header, new=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock of the file's folder (an flock on the directory, so no lock file is
        left behind), waiting up to ``lock_timeout`` seconds."""
        if fcntl is None:
            yield
            return
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            deadline, told = time.monotonic() + self.lock_timeout, False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeoutError(
                            f"another process has been writing in {self.path.parent} for over "
                            f"{self.lock_timeout:g} s; {self.path} is unchanged: try again "
                            "when it is done"
                        ) from None
                    if not told and self.on_wait is not None:
                        self.on_wait(
                            f"waiting for another writer in {self.path.parent} (the folder's "
                            f"lock; {self.path.name} is next) ..."
                        )
                        told = True
                    time.sleep(0.05)
                except OSError:  # a file system without flock: writers are not serialized
                    os.close(fd)
                    fd = -1
                    break
            try:
                yield
            finally:
                if fd >= 0:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            if fd >= 0:
                os.close(fd)

    def _commit(self, change: Callable[[h5py.File], None], new: bool = False) -> None:
        """Apply ``change`` to a copy of the file and rename the copy over it (caller holds
        the lock). On any failure the file is left as it was and the copy removed."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # a killed writer's (only the lock holder writes)
        try:
            if not new:
                if not self.path.exists():
                    raise UsageError(
                        f"{self.path} was removed while being written; its runs are lost from "
                        "it: run again into another file"
                    )
                shutil.copyfile(self.path, tmp)
            with h5py.File(tmp, "w" if new else "r+") as f:
                if not new:
                    reader.check_header(self.path, f)
                change(f)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            self._sync_folder()
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, PermissionError):
                raise UsageError(
                    f"cannot write {self.path}: permission denied in {self.path.parent}; "
                    "choose another output file"
                ) from None
            if isinstance(exc, Exception) and _no_space(exc):
                free = shutil.disk_usage(self.path.parent).free
                raise DiskFullError(
                    f"no space left on the disk holding {self.path.parent} ({free} bytes free) "
                    f"while writing {self.path.name}; the file keeps everything complete "
                    "before this record: free some space, then resume"
                ) from None
            raise

    def _sync_folder(self) -> None:
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:  # pragma: no cover
            return
        try:
            os.fsync(fd)
        except OSError:  # pragma: no cover - some file systems refuse to sync a folder
            pass
        finally:
            os.close(fd)

    def _write(self, change: Callable[[h5py.File], None]) -> None:
        with self._locked():
            self._commit(change)

    # -- records -------------------------------------------------------------------------------
    def write_scan(self, scan: ScanRecord) -> None:
        def change(f: h5py.File) -> None:
            group = f.require_group(f"{schema.SCANS}/{scan.scan_id}")
            if "lambda0" in group.attrs:
                return  # the scan's start is stored once
            schema.write_fields(group, scan, schema.SCAN_FIELDS)
            group.attrs["seed"] = scan.seed
            group.attrs["sgd_seed"] = scan.sgd_seed
            group.attrs["complete"] = False
            group.require_group(schema.RUNS)
            schema.seal(scan.scan_id, group)

        self._write(change)

    def write_run(self, run: RunRecord) -> None:
        def change(f: h5py.File) -> None:
            scan = f.require_group(f"{schema.SCANS}/{run.scan_id}")
            runs = scan.require_group(schema.RUNS)
            if run.run_id in runs:
                return  # never a duplicate
            group = runs.create_group(run.run_id)
            schema.write_fields(group, run, schema.RUN_FIELDS)
            schema.seal(run.run_id, group)
            if "runs_written" in scan.attrs:  # a run added to a complete scan
                scan.attrs["runs_written"] = len(runs)
                schema.seal(run.scan_id, scan)

        self._write(change)

    def complete_scan(
        self, scan_id: str, constants: Mapping[str, Constant], sharp_eps: float
    ) -> None:
        """Mark a scan complete with its constants and the c_sharp threshold they used."""

        def change(f: h5py.File) -> None:
            group = f[f"{schema.SCANS}/{scan_id}"]
            group.attrs["constants"] = codec.dumps(constants)
            group.attrs["sharp_eps"] = float(sharp_eps)
            group.attrs["complete"] = True
            group.attrs["runs_written"] = len(group.get(schema.RUNS, {}))
            schema.seal(scan_id, group)

        self._write(change)

    def write_point(
        self,
        point_id: str,
        config: Mapping[str, Any],
        label: str,
        scans: list[str],
        aggregates: Mapping[str, Aggregate],
    ) -> None:
        def change(f: h5py.File) -> None:
            group = f.require_group(f"{schema.POINTS}/{point_id}")
            group.attrs["config"] = codec.dumps(config, exact=True)
            group.attrs["label"] = label
            group.attrs["scans"] = codec.dumps(sorted(scans))
            group.attrs["aggregates"] = codec.dumps(aggregates)
            schema.seal(point_id, group)

        self._write(change)

    def write_failure(
        self, task_id: str, config: Mapping[str, Any], error: str, attempts: int
    ) -> None:
        def change(f: h5py.File) -> None:
            group = f.require_group(f"{schema.FAILURES}/{task_id}")
            group.attrs["config"] = codec.dumps(config, exact=True)
            group.attrs["error"] = error
            group.attrs["attempts"] = attempts
            schema.seal(task_id, group)

        self._write(change)

    def write_spectrum(self, spectrum: SpectrumRecord) -> None:
        """Store a spectrum once (the same spectrum_id again is skipped)."""

        def change(f: h5py.File) -> None:
            spectra = f.require_group(schema.SPECTRA)
            if spectrum.spectrum_id in spectra:
                return
            group = spectra.create_group(spectrum.spectrum_id)
            schema.write_fields(group, spectrum, schema.SPECTRUM_FIELDS)
            schema.seal(spectrum.spectrum_id, group)

        self._write(change)

    def write_trace(self, trace: TraceRecord, checkpoint: bytes | None = None) -> None:
        """Store a trace as it stands, with what resuming it needs (``checkpoint``; None once
        it is finished), in one transaction: a kill leaves the previous state, whole."""

        def change(f: h5py.File) -> None:
            group = f.require_group(f"{schema.TRACES}/{trace.scan_id}/{trace.trace_id}")
            schema.write_trace(group, trace, checkpoint)
            schema.seal(trace.trace_id, group)

        self._write(change)
