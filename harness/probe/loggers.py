"""Experiment trackers (the ``logger`` kind): what a study tells them, and the one object that
calls them.

A logger is made by its registered factory, ``make(results, **options)`` (``results``: the
path of the study's HDF5 file, next to which a logger keeps its local files by default), and
is told, by the driver only and once per record, after the record is in the results file:

- ``start(study)``: a ``StudyInfo`` (the results file, how many scans this invocation runs);
- ``log_scan(scan)``: a ``ScanRecord`` (configuration, lambda0, L0), before its first run;
- ``log_run(run)``: a ``RunRecord`` (c, eta, the per-step loss, batch loss, sharpness, HVPs,
  convergence; diverged), as the run is written;
- ``log_constants(scan, constants)``: the scan's critical constants (name -> ``Constant``:
  value, status, lower bound) when the scan completes;
- ``log_figure(path)``: a PNG written from the file (``phasebench plot --logger``);
- ``close()``: once, at the end, whatever happened.

The HDF5 file stays the record of truth: a logger that raises (a server down, a full disk,
a bug) is reported once, in one line, and not called again; the study goes on and loses
nothing. A logger is not part of the experiment: no configuration field, no run id.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from phasebench.analysis.phases import Constant
from phasebench.errors import ParameterError, PhasebenchError, UsageError
from phasebench.plugins import Components
from phasebench.results.records import RunRecord, ScanRecord

KIND = "logger"


@dataclass(frozen=True)
class StudyInfo:
    """What a logger is told when a study starts."""

    results: Path  #: the HDF5 file every record is written to first
    scans: int = 0  #: scans this invocation runs
    skipped: int = 0  #: complete scans the file already held (resume)
    runs_per_scan: int | None = None  #: the most runs a scan makes (None: bisect)


class Logger(Protocol):
    """The calls a logger receives (the module docstring says when)."""

    def start(self, study: StudyInfo) -> None: ...

    def log_scan(self, scan: ScanRecord) -> None: ...

    def log_run(self, run: RunRecord) -> None: ...

    def log_constants(self, scan: ScanRecord, constants: Mapping[str, Constant]) -> None: ...

    def log_figure(self, path: Path) -> None: ...

    def close(self) -> None: ...

    # optional (added with traces; a logger without it is simply not told of traces):
    # def log_trace(self, trace: TraceRecord) -> None: ...


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


#: Calls a logger may lack (added after the first loggers were written): it is not told.
OPTIONAL = frozenset({"log_trace"})


class Loggers:
    """The chosen loggers, each called in turn. One that raises is reported once through
    ``report`` (one line) and dropped; ``failures`` keeps those lines. Every scan is announced
    once, before its runs, and its constants are logged once."""

    def __init__(
        self,
        named: Sequence[tuple[str, Logger]] = (),
        report: Callable[[str], None] = _stderr,
    ) -> None:
        self._live = list(named)
        self.names = [name for name, _ in named]
        self.report = report
        self.failures: list[str] = []
        self._scans: dict[str, ScanRecord] = {}
        self._completed: set[str] = set()
        self._closed = False

    def __bool__(self) -> bool:
        return bool(self._live)

    def _call(self, method: str, *args: Any) -> None:
        for entry in list(self._live):
            name, logger = entry
            if method in OPTIONAL and not hasattr(logger, method):
                continue
            try:
                getattr(logger, method)(*args)
            except Exception as exc:  # any failure of a tracker: reported, never the study's
                self._live.remove(entry)
                line = (
                    f"logger {name!r} failed in {method} ({_first_line(exc)}); it is off for "
                    "the rest of this study, the results file has everything"
                )
                self.failures.append(line)
                self.report(line)
                if method != "close":
                    self._close_quietly(logger)

    @staticmethod
    def _close_quietly(logger: Logger) -> None:
        try:
            logger.close()
        except Exception:  # it already failed once; one line is enough
            pass

    # -- the contract ---------------------------------------------------------------------
    def start(self, study: StudyInfo) -> None:
        self._call("start", study)

    def log_scan(self, scan: ScanRecord) -> None:
        if scan.scan_id not in self._scans:
            self._scans[scan.scan_id] = scan
            self._call("log_scan", scan)

    def log_run(self, run: RunRecord) -> None:
        self._call("log_run", run)

    def log_constants(self, scan: ScanRecord, constants: Mapping[str, Constant]) -> None:
        if scan.scan_id not in self._completed:
            self._completed.add(scan.scan_id)
            self.log_scan(scan)
            self._call("log_constants", scan, dict(constants))

    def log_figure(self, path: Path) -> None:
        self._call("log_figure", Path(path))

    def log_trace(self, trace) -> None:
        """A finished (or diverged) trace, once, after it is in the file."""
        self._call("log_trace", trace)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._call("close")


def chosen(value: Any) -> dict[str, dict[str, Any]]:
    """A choice of loggers as name -> options: from a name, a list of names, or a mapping of
    name -> options (a ``--config`` file's ``loggers``, the Python API's ``loggers=``).
    Anything else is a ``ParameterError`` naming ``loggers``."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping) and all(isinstance(o, Mapping) for o in value.values()):
        return {str(name): dict(options) for name, options in value.items()}
    if isinstance(value, (list, tuple)) and all(isinstance(name, str) for name in value):
        return {name: {} for name in value}
    raise ParameterError(
        'loggers must be a list of names (loggers = ["jsonl"]) or a table of name -> options '
        f"([loggers.mlflow]), got {value!r}",
        "loggers",
    )


def build(
    components: Components,
    chosen: Mapping[str, Mapping[str, Any]],
    results: str | Path,
    report: Callable[[str], None] = _stderr,
) -> Loggers:
    """Make each chosen logger (name -> its options) for the study writing ``results``. An
    unknown name or option, or a missing extra, is a one-line ``UsageError`` before any work."""
    made = []
    for name, options in chosen.items():
        registration = components.get(KIND, name)
        merged = registration.options(dict(options))
        try:
            made.append((name, registration.load()(Path(results), **merged)))
        except PhasebenchError:
            raise
        except Exception as exc:
            raise UsageError(f"logger {name!r} cannot start: {_first_line(exc)}") from None
    return Loggers(made, report)


def replay(path: str | Path, loggers: Loggers) -> None:
    """Tell ``loggers`` everything the results file ``path`` holds, in the order a study
    would: start, then each scan, its runs by c and, for a complete scan, its constants; then
    close. An existing file's records, logged after the fact."""
    from phasebench.results.reader import load
    from phasebench.results.schema import run_record, scan_record
    from phasebench.results.summary import scan_summaries

    loaded = load(path)
    summaries = {s.scan_id: s for s in scan_summaries(loaded)}
    loggers.start(StudyInfo(Path(path), len(loaded["scans"])))
    try:
        for scan_id, scan in loaded["scans"].items():
            start = scan_record(scan_id, scan)
            loggers.log_scan(start)
            runs = sorted(scan["runs"].items(), key=lambda item: item[1]["c"])
            for run_id, run in runs:
                loggers.log_run(run_record(run_id, scan_id, run))
            if scan.get("complete"):
                loggers.log_constants(start, summaries[scan_id].constants)
    finally:
        loggers.close()
