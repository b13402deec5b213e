"""CPU-bound task for benchmarks/test_bench_executors.py, importable by spawned workers."""

from __future__ import annotations

from typing import Any


def matmul_loop(task: dict[str, Any]) -> dict[str, float]:
    """``task["iterations"]`` products of a seeded 128x128 matrix (~0.1 ms each, one thread).

    Returns the (deterministic) sum and the CPU seconds the task's thread used, which shows how
    much of the wall time other processes on a shared machine took.
    """
    import time

    import torch

    start = time.thread_time()
    generator = torch.Generator().manual_seed(task["seed"])
    a = torch.randn(128, 128, generator=generator) / 128**0.5
    x = torch.randn(128, 128, generator=generator)
    for _ in range(task["iterations"]):
        x = torch.tanh(a @ x)
    return {"value": float(x.sum()), "cpu_s": time.thread_time() - start}
