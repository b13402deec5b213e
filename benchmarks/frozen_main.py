"""main as of issue 16 (git revision d4b3f12), extracted to a temporary folder so a benchmark
can run today's code and that revision's side by side, interleaved, in one session.

``frozen_tree(tmp)`` writes ``harness`` and ``plugins`` of that revision (``git archive``) and
links them as ``phasebench`` and ``phasebench_builtins``; a subprocess whose ``PYTHONPATH``
starts with that folder imports the old packages (the editable install is looked up after
``sys.path``) while the installed entry points, which name modules only, load the old
built-ins. ``cpu_run(...)`` runs a command in a subprocess and returns its CPU seconds (user +
system, from ``getrusage``: on a shared machine a better measure than wall time) and wall
seconds.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REVISION = "d4b3f12"
ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "phasebench.cli.main"]


def frozen_tree(folder: Path) -> Path:
    """The revision's packages under ``folder`` (skips the test when git or the revision is
    missing, e.g. in an sdist)."""
    archive = folder / "main.tar"
    try:
        with archive.open("wb") as out:
            subprocess.run(
                ["git", "-C", str(ROOT), "archive", REVISION, "harness", "plugins"],
                stdout=out,
                check=True,
                stderr=subprocess.DEVNULL,
            )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git revision {REVISION} is not available")
    tree = folder / "main"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    (tree / "phasebench").symlink_to(tree / "harness")
    (tree / "phasebench_builtins").symlink_to(tree / "plugins")
    return tree


def environment(tree: Path | None, cache: Path, threads: int = 1) -> dict[str, str]:
    """The subprocess environment: the frozen tree first on the path (None: today's code),
    its own cache folder, ``threads`` torch threads."""
    env = dict(os.environ)
    env["PHASEBENCH_CACHE"] = str(cache)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    env.pop("PHASEBENCH_PLAIN", None)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    return env


def cpu_run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``args``; (CPU seconds of the child, wall seconds, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr[-2000:]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.stdout
