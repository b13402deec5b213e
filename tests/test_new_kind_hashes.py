"""Adding an optional kind to the core's table renames no run: files written before it existed
(before the schedule kind) keep their run, scan and point ids, and resume. The table is read
when phasebench.config is imported, so the check runs in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

from support import REPO

CHECK = """
import json, sys
from phasebench.config import ComponentSpec, ProbeConfig
from phasebench.results.reader import load

out = {"fields": [f for f in ProbeConfig.__dataclass_fields__], "same": [], "renamed": []}
for path in sys.argv[1:]:
    for scan_id, scan in load(path)["scans"].items():
        config = ProbeConfig.from_dict(scan["config"])
        assert config.schedule is None
        out["same"].append(config.scan_id == scan_id and all(
            ProbeConfig.from_dict(run["config"]).run_id == run_id
            for run_id, run in scan["runs"].items()))
        scheduled = ProbeConfig.from_dict(
            {**scan["config"], "schedule": {"name": "cosine", "options": {"warmup": 10}}})
        out["renamed"].append(scheduled.scan_id != scan_id and scheduled.schedule.name == "cosine")
print(json.dumps(out))
"""


def test_an_optional_kind_leaves_the_names_of_existing_runs_unchanged():
    files = [
        str(REPO / "tests" / "data" / name)
        for name in ("main-a7147a9.h5", "main-a7147a9-partial.h5")
    ]
    done = subprocess.run(
        [sys.executable, "-c", CHECK, *files], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "schedule" in out["fields"]
    assert out["same"] == [True, True, True]  # three scans: two complete, one partial
    assert out["renamed"] == [True, True, True]  # set, the new kind is part of the name
