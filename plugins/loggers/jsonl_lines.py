"""The ``jsonl`` logger: one JSON line per record (start, scan, run, constants, figure, trace,
end),
appended to ``<results>.jsonl``; arrays as lists, non-finite numbers as null. Flushed line by
line, so another tool can follow the file as the study runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from phasebench.results import codec


class JsonlLogger:
    def __init__(self, results: Path, path: str | None = None) -> None:
        self.path = Path(path) if path else Path(results).with_suffix(".jsonl")
        self._file = None

    def _write(self, record: str, body: Mapping[str, Any]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # closed in close()
        self._file.write(codec.dumps({"record": record, **body}) + "\n")
        self._file.flush()

    def start(self, study) -> None:
        self._write("start", dataclasses.asdict(study) | {"results": str(study.results)})

    def log_scan(self, scan) -> None:
        self._write("scan", dataclasses.asdict(scan))

    def log_run(self, run) -> None:
        self._write("run", dataclasses.asdict(run))

    def log_constants(self, scan, constants) -> None:
        body = {name: constant.to_dict() for name, constant in constants.items()}
        self._write("constants", {"scan_id": scan.scan_id, "constants": body})

    def log_figure(self, path: Path) -> None:
        self._write("figure", {"path": str(path)})

    def log_trace(self, trace) -> None:
        self._write("trace", dataclasses.asdict(trace))

    def close(self) -> None:
        if self._file is not None:
            self._write("end", {})
            self._file.close()
            self._file = None
