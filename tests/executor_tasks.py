"""Task functions for tests/test_executors.py, importable by spawned worker processes.

Each takes one plain dict task, as the sweep's task function does.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any


def matmul_sum(task: dict[str, Any]) -> dict[str, Any]:
    """A seeded torch computation: its value is bit-for-bit reproducible on one thread."""
    import torch

    generator = torch.Generator().manual_seed(task["seed"])
    a = torch.randn(task["n"], task["n"], generator=generator, dtype=torch.float64)
    value = (a @ a.T @ a).sum().item()
    return {"seed": task["seed"], "value": value, "threads": torch.get_num_threads()}


def square(task: dict[str, Any]) -> int:
    time.sleep(task.get("sleep", 0.0))
    return task["x"] ** 2


def raise_on_three(task: dict[str, Any]) -> int:
    if task["x"] == 3:
        raise ValueError(f"x={task['x']} is not allowed")
    return task["x"] ** 2


def die_once(task: dict[str, Any]) -> int:
    """Kills its own process on the first attempt of a task that names a marker file."""
    marker = task.get("marker")
    if marker is not None and not Path(marker).exists():
        Path(marker).write_text("attempted")
        if task.get("how") == "exit":
            os._exit(3)
        os.kill(os.getpid(), signal.SIGKILL)
    return task["x"] ** 2


def die_if_negative(task: dict[str, Any]) -> int:
    """Kills its own process on every attempt of a task with a negative x."""
    time.sleep(task.get("sleep", 0.0))
    if task["x"] < 0:
        os._exit(3)
    return task["x"] ** 2


def mark_then_sleep(task: dict[str, Any]) -> int:
    """Writes its worker's pid to the task's marker file, then sleeps ``task["sleep"]`` s."""
    Path(task["marker"]).write_text(str(os.getpid()))
    time.sleep(task["sleep"])
    return task["x"]
