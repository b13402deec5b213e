"""Times default probe runs in this process and prints one JSON line; it uses only what main
at d4b3f12 already had, so ``benchmarks/test_bench_cpu_path.py`` runs it with that revision
and with today's code (``frozen_main``), alternating.

``python run_driver.py C [C ...]``: build the default problem, measure lambda0, then one run
per c; prints the CPU seconds of each run (``time.process_time``, one torch thread) and its
sharpness and barrier, so the caller can check that both revisions computed the same."""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from phasebench import plugins
    from phasebench.config import ComponentSpec, ProbeConfig
    from phasebench.probe import trajectory
    from phasebench.probe.problem import Problem

    comps = plugins.components()

    def spec(kind: str, name: str) -> ComponentSpec:
        return ComponentSpec.of(name, comps.get(kind, name).options({}))

    config = ProbeConfig(
        model=spec("model", "fcn"),
        dataset=spec("dataset", "fashion-mnist-subset"),
        init=spec("initialization", "he"),
        loss=spec("loss", "mse"),
        optimizer=spec("optimizer", "sgd"),
        estimator=spec("estimator", "lanczos"),
    )
    problem = Problem.build(config, comps)
    began = time.process_time()
    begin = trajectory.start(problem)
    figures = {"start_cpu_s": time.process_time() - began, "lambda0": begin.record.lambda0}
    runs = []
    for c in map(float, sys.argv[1:]):
        began = time.process_time()
        record = trajectory.run(problem, begin, c)
        runs.append(
            {
                "c": c,
                "cpu_s": time.process_time() - began,
                "loss": record.loss.tolist(),
                "sharpness": record.sharpness.tolist(),
                "barrier": record.barrier_loss.tolist(),
            }
        )
    print(json.dumps({**figures, "runs": runs}))


if __name__ == "__main__":
    main()
