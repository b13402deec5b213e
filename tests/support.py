"""Helpers the tests share (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN_SRC = REPO / "examples" / "phasebench-example-plugin" / "src"


def install_fake_distribution(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """Write a ``.dist-info`` folder: what ``pip install`` leaves, minus the copied files."""
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[phasebench]\n{lines}")


def subprocess_env(*paths: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHASEBENCH_")}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def phasebench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``phasebench ARGS`` in a fresh process (plugins found through real entry points)."""
    return subprocess.run(
        [sys.executable, "-m", "phasebench.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def build_executor(name: str, **options):
    """The registered executor ``name`` made with ``options`` over its declared defaults, as
    ``sweep`` makes it (the components receive every option)."""
    from phasebench.plugins import components

    registration = components().get("executor", name)
    return registration.load()(**registration.options(options))
