"""The batched engine against the sequential one on this CPU: the same 8 runs of the default
probe's fcn (4 x 128, batches of 2,048), interleaved rounds, 1 thread; the ratio
sequential / batched is in extra_info (above 1: batched is faster). No GPU was available when
this was written: on a GPU, where per-call overhead dominates at these sizes, run it with
``PHASEBENCH_BENCH_DEVICE=cuda`` (docs/engines.md)."""

from __future__ import annotations

import os
import statistics
import time

import torch

from phasebench import kinds, plugins
from phasebench.probe import batched, study, trajectory
from phasebench.probe.problem import Problem

CS = [2.0 ** (x / 4) for x in range(8)]  # 1 .. 3.4: below c_max of the default probe
ROUNDS = 3


def default_problem() -> tuple[Problem, trajectory.Start]:
    components = plugins.components()
    names = {kind.field: kind.default for kind in kinds.probe_kinds()}
    device = os.environ.get("PHASEBENCH_BENCH_DEVICE", "cpu")
    config = study.template(components, study.Choices(names, {}), device=device)
    problem = Problem.build(config, components)
    return problem, trajectory.start(problem)


def test_batched_against_sequential_engine(benchmark):
    torch.set_num_threads(1)
    problem, begin = default_problem()
    sequential, together = [], []

    def one_round():
        tick = time.perf_counter()
        for c in CS:
            trajectory.run(problem, begin, c)
        sequential.append(time.perf_counter() - tick)
        tick = time.perf_counter()
        batched.run_members(problem, begin, CS)
        together.append(time.perf_counter() - tick)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        {
            "device": str(problem.device),
            "members": len(CS),
            "sequential_seconds": statistics.median(sequential),
            "batched_seconds": statistics.median(together),
            "ratio_sequential_over_batched": statistics.median(sequential)
            / statistics.median(together),
        }
    )
