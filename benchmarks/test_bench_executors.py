"""Throughput of the executors on CPU-bound tasks of about a second, as ratios in one run.

Targets (issue 6): ``process`` with 2 workers >= 1.7x ``local``; a 2-worker dask LocalCluster
within 15% of ``process``. Throughput is steady state: each executor is started and its workers
have imported torch before the clock starts (startup is reported separately), as in a sweep of
hundreds of tasks where startup is amortized. Run with
``pytest benchmarks/test_bench_executors.py --benchmark-enable -s``; the ratios are in
``extra_info`` and printed.
"""

from __future__ import annotations

import time
from pathlib import Path

import bench_executors_tasks
import pytest

from phasebench.plugins import components


def build_executor(name: str, **options):
    """The registered executor made as ``sweep`` makes it: every option, defaults merged."""
    registration = components().get("executor", name)
    return registration.load()(**registration.options(options))


TASKS = 8
TASK_SECONDS = 1.0
WORKERS = 2


@pytest.fixture(autouse=True)
def benchmarks_importable_by_workers(monkeypatch):
    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", here)
    monkeypatch.syspath_prepend(here)


def iterations_for_one_second() -> int:
    """How many loop iterations take about TASK_SECONDS on one torch thread here."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bench_executors_tasks.matmul_loop({"seed": 0, "iterations": 20})  # warm up
        start = time.perf_counter()
        bench_executors_tasks.matmul_loop({"seed": 0, "iterations": 200})
        per_iteration = (time.perf_counter() - start) / 200
    finally:
        torch.set_num_threads(threads)
    return max(1, round(TASK_SECONDS / per_iteration))


def throughput(executor, tasks) -> dict[str, object]:
    """Tasks per second in steady state, startup seconds, CPU share, values by task index."""
    workers = getattr(executor, "workers", 1)
    start = time.perf_counter()
    with executor:
        warm = [{"seed": -1 - i, "iterations": 1} for i in range(WORKERS)]
        assert all(o.ok for o in executor.submit_all(bench_executors_tasks.matmul_loop, warm))
        startup = time.perf_counter() - start
        start = time.perf_counter()
        outcomes = list(executor.submit_all(bench_executors_tasks.matmul_loop, tasks))
        elapsed = time.perf_counter() - start
    assert all(o.ok and o.attempts == 1 for o in outcomes)
    values = [o.value["value"] for o in sorted(outcomes, key=lambda o: o.index)]
    cpu = sum(o.value["cpu_s"] for o in outcomes)
    return {
        "rate": len(tasks) / elapsed,
        "startup_s": startup,
        # CPU seconds the tasks got over the seconds their workers were busy: 1.0 on an idle
        # machine, lower when other processes share the cores.
        "cpu_share": cpu / (elapsed * workers),
        "values": values,
    }


def test_process_and_dask_throughput_against_local(benchmark):
    iterations = iterations_for_one_second()
    tasks = [{"seed": seed, "iterations": iterations} for seed in range(TASKS)]
    results = {}

    def run_all() -> None:
        results["local"] = throughput(build_executor("local"), tasks)
        results["process"] = throughput(build_executor("process", workers=WORKERS), tasks)
        results["dask"] = throughput(build_executor("dask", workers=WORKERS), tasks)

    benchmark.pedantic(run_all, rounds=1, iterations=1)
    rate = {name: r["rate"] for name, r in results.items()}
    info = {
        "tasks": TASKS,
        "iterations_per_task": iterations,
        "process_over_local": rate["process"] / rate["local"],
        "dask_over_process": rate["dask"] / rate["process"],
        **{f"{name}_tasks_per_s": value for name, value in rate.items()},
        **{f"{name}_startup_s": r["startup_s"] for name, r in results.items()},
        **{f"{name}_cpu_share": r["cpu_share"] for name, r in results.items()},
    }
    benchmark.extra_info.update(info)
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in info.items()})
    # Every executor computed the same numbers.
    assert results["process"]["values"] == results["local"]["values"]
    assert results["dask"]["values"] == results["local"]["values"]
