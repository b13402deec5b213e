"""Start-up time of `phasebench --help` and `phasebench list`, against `import torch`.

Neither command may import torch (tests/test_cli.py asserts it); this keeps the cost visible:
the ratios to a bare interpreter and to `import torch`, measured in one run, are in extra_info.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import pytest


def _wall(args: list[str], repeats: int = 5) -> float:
    subprocess.run(args, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run(args, capture_output=True, check=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


CLI = [sys.executable, "-m", "phasebench.cli.main"]


@pytest.mark.parametrize("command", [["--help"], ["list"], ["plugins"]], ids=" ".join)
def test_cli_start_up(benchmark, command):
    bare = _wall([sys.executable, "-c", "pass"])
    torch = _wall([sys.executable, "-c", "import torch"])
    result = benchmark.pedantic(
        lambda: subprocess.run([*CLI, *command], capture_output=True, check=True),
        rounds=5,
        warmup_rounds=1,
    )
    del result
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {
            "median_s": median,
            "python_bare_s": bare,
            "import_torch_s": torch,
            "ratio_to_import_torch": median / torch,
            "ratio_to_bare_python": median / bare,
        }
    )
