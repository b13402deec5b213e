"""The CPU path of the default probe (issue 16): against main, against the GEMM peak, against
the authors' power iteration, and the start-up of `run`. Ratios and fractions are measured in
one interleaved run and reported in extra_info; nothing here asserts a time.

Every figure is CPU seconds at one torch thread (``getrusage`` for subprocesses,
``time.process_time`` in process), which a shared machine inflates less than wall time.
``PHASEBENCH_BENCH_ROUNDS`` (default 1 for the whole-command comparisons, 3 in process)
sets the rounds. docs/performance.md has the figures measured when this was written.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from frozen_main import CLI, cpu_run, environment, frozen_tree
from torch.utils.flop_counter import FlopCounterMode

from phasebench import Option
from phasebench.config import ComponentSpec, ProbeConfig
from phasebench.hessian.estimation import Estimate, estimator
from phasebench.plugins import components
from phasebench.probe import trajectory
from phasebench.probe.problem import Problem
from phasebench.registry import Registration
from phasebench.results import load

HERE = Path(__file__).resolve().parent
CONSTANTS = ("c_loss", "c_sharp", "c_barrier", "c_max")


def _rounds(default: int) -> int:
    return max(1, int(os.environ.get("PHASEBENCH_BENCH_ROUNDS", default)))


def _constants(path: Path) -> dict[str, float]:
    [scan] = load(path)["scans"].values()
    return {name: scan["constants"][name]["value"] for name in CONSTANTS}


# -- (a) the default `phasebench run` against main -----------------------------------------


def test_default_run_against_main(benchmark, tmp_path):
    """`phasebench run` (all defaults) of today's code and of main at d4b3f12, alternating;
    the constants must be the same. Today's code keeps its backend choice on disk, so from the
    second process on it does not calibrate (the first round's process does)."""
    tree = frozen_tree(tmp_path)
    old_env = environment(tree, tmp_path / "old-cache")
    new_env = environment(None, tmp_path / "new-cache")
    old_cpu, new_cpu, new_wall = [], [], []

    def old_run():
        out = tmp_path / "main.h5"
        out.unlink(missing_ok=True)
        cpu, _, _ = cpu_run([*CLI, "run", "--out", str(out)], old_env)
        old_cpu.append(cpu)

    def new_run():
        out = tmp_path / "today.h5"
        out.unlink(missing_ok=True)
        cpu, wall, _ = cpu_run([*CLI, "run", "--out", str(out)], new_env)
        new_cpu.append(cpu)
        new_wall.append(wall)

    benchmark.pedantic(new_run, setup=old_run, rounds=_rounds(1), iterations=1)
    old, new = _constants(tmp_path / "main.h5"), _constants(tmp_path / "today.h5")
    assert old.keys() == new.keys()
    for name in CONSTANTS:  # the same grid point, or both undetermined
        assert (math.isnan(old[name]) and math.isnan(new[name])) or old[name] == new[name], name
    benchmark.extra_info.update(
        {
            "main_cpu_s": old_cpu,
            "today_cpu_s": new_cpu,
            "today_wall_s": new_wall,
            "speedup_cpu": statistics.median(old_cpu) / statistics.median(new_cpu),
            "constants": new,
        }
    )


def test_default_runs_against_main(benchmark, tmp_path):
    """The same comparison per run, cheaper (a whole default `run` is ~35 runs): processes of
    main at d4b3f12 and of today's code each measure lambda0 and time runs at c = 2 and 8
    (``run_driver.py``), alternating; the losses, sharpness and barrier must agree."""
    tree = frozen_tree(tmp_path)
    driver = [sys.executable, str(HERE / "run_driver.py"), "2", "8"]
    figures: dict[str, list[dict]] = {"main": [], "today": []}

    def one(which):
        env = environment(tree if which == "main" else None, tmp_path / f"{which}-cache")
        _, _, stdout = cpu_run(driver, env)
        figures[which].append(json.loads(stdout.splitlines()[-1]))

    benchmark.pedantic(
        lambda: one("today"), setup=lambda: one("main"), rounds=_rounds(1), iterations=1
    )
    old, new = figures["main"][-1], figures["today"][-1]
    assert old["lambda0"] == new["lambda0"]
    for a, b in zip(old["runs"], new["runs"], strict=True):
        for key in ("loss", "sharpness"):
            np.testing.assert_allclose(b[key], a[key], rtol=1e-6)
        np.testing.assert_allclose(b["barrier"], a["barrier"], rtol=1e-6)

    def per_run(which):
        return statistics.median(r["cpu_s"] for f in figures[which] for r in f["runs"])

    benchmark.extra_info.update(
        {
            "main_run_cpu_s": [r["cpu_s"] for f in figures["main"] for r in f["runs"]],
            "today_run_cpu_s": [r["cpu_s"] for f in figures["today"] for r in f["runs"]],
            "speedup_per_run_cpu": per_run("main") / per_run("today"),
            "main_start_cpu_s": [f["start_cpu_s"] for f in figures["main"]],
            "today_start_cpu_s": [f["start_cpu_s"] for f in figures["today"]],
        }
    )


# -- the default probe in this process ------------------------------------------------------


def _default_config(estimator_name: str = "lanczos", options: dict | None = None) -> ProbeConfig:
    comps = components()

    def spec(kind: str, name: str, given: dict | None = None) -> ComponentSpec:
        return ComponentSpec.of(name, comps.get(kind, name).options(given or {}))

    return ProbeConfig(
        model=spec("model", "fcn"),
        dataset=spec("dataset", "fashion-mnist-subset"),
        init=spec("initialization", "he"),
        loss=spec("loss", "mse"),
        optimizer=spec("optimizer", "sgd"),
        estimator=spec("estimator", estimator_name, options),
        c=2.0,
    )


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mm_peak(shapes, repeats: int = 20) -> float:
    """The best torch.mm FLOP rate (per CPU second) over the probe's GEMM shapes."""
    best = 0.0
    for m, k, n in shapes:
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b
        for _ in range(repeats):
            began = time.process_time()
            a @ b
            seconds = time.process_time() - began
            if seconds > 0:
                best = max(best, 2 * m * k * n / seconds)
    return best


# -- (b) one probe run's fraction of the GEMM peak ----------------------------------------


def test_probe_run_fraction_of_gemm_peak(benchmark, one_thread):
    """One default run (c = 2): its FLOPs (counted by torch's FlopCounterMode), its CPU time,
    and torch.mm's peak at the probe's shapes (fcn 784-128-128-128-10 on 2,048 examples, and
    the SGD minibatch of 512), measured between the runs."""
    problem = Problem.build(_default_config(), components())
    begin = trajectory.start(problem)
    trajectory.run(problem, begin, 2.0)  # warm
    with FlopCounterMode(display=False) as counter:
        trajectory.run(problem, begin, 2.0)
    flops = counter.get_total_flops()
    n, b = problem.config.sharpness_examples, problem.config.batch_size
    shapes = [(n, 784, 128), (784, n, 128), (n, 128, 784), (n, 128, 128), (b, 784, 128)]
    peaks, seconds = [], []

    def timed():
        began = time.process_time()
        trajectory.run(problem, begin, 2.0)
        seconds.append(time.process_time() - began)

    benchmark.pedantic(
        timed, setup=lambda: peaks.append(_mm_peak(shapes)), rounds=_rounds(3), iterations=1
    )
    run_s, peak = statistics.median(seconds), max(peaks)
    benchmark.extra_info.update(
        {
            "gflop_per_run": flops / 1e9,
            "run_cpu_s": seconds,
            "gemm_peak_gflops": peak / 1e9,
            "achieved_gflops": flops / run_s / 1e9,
            "fraction_of_peak": flops / run_s / peak,
        }
    )


# -- (c) against the authors' method: 20 power iterations from a fixed start ---------------


@estimator(which=("magnitude",))
def authors_power(operator, request, iterations: int = 20) -> Estimate:
    """Kalra & Barkeshli's measurement: ``iterations`` products of power iteration from the
    same fixed Gaussian start every time (seed 0), no convergence test; lambda is the Rayleigh
    quotient v . H v of the last iterate (so ``iterations`` products in all)."""
    v = operator.random_vector(torch.Generator().manual_seed(0))
    value = residual = float("nan")
    for _ in range(int(iterations)):
        w = operator.matvec(v)
        value = float(v.double() @ w.double())
        residual = float((w.double() - value * v.double()).norm() / max(abs(value), 1e-300))
        v = w / w.double().norm().to(w.dtype)
    return Estimate((value,), True, (residual * abs(value),), None, int(iterations))


def _with_authors_estimator():
    comps = components()
    registry = comps.registry("estimator")
    if "authors-power-20" not in registry:
        registry.add(
            Registration(
                "estimator",
                "authors-power-20",
                "the authors' 20 power iterations from a fixed start",
                authors_power,
                (Option("iterations", 20, "products per measurement", ge=1),),
                plugin="benchmark",
            )
        )
    return comps


def test_probe_against_authors_power_iteration(benchmark, one_thread, monkeypatch):
    """One default run (c = 2) with Lanczos (the default) and with the authors' power-20,
    alternating; each step's lambda against a tight Lanczos (tol 1e-9) at the same parameters
    (SGD does not depend on the measurement, so every run passes the same points)."""
    comps = _with_authors_estimator()
    problems = {
        name: Problem.build(_default_config(name), comps)
        for name in ("lanczos", "authors-power-20")
    }
    begin = trajectory.start(problems["lanczos"])
    tight = problems["lanczos"].config.estimator.opts() | {"tol": 1e-9, "max_iter": 400}
    reference: list[float] = []
    real = trajectory.measure_sharpness

    def with_reference(problem, model, warm, generator, **options):
        result = real(problem, model, warm, generator, **options)
        inputs, targets = problem.sharpness_batch()
        from phasebench.hessian.api import run_estimator
        from phasebench.hessian.operator import HessianOperator

        op = HessianOperator(model, problem.loss, inputs, targets, dtype=problem.dtype)
        reference.append(run_estimator(op, "lanczos", 1, options=tight).lambda_max)
        return result

    monkeypatch.setattr(trajectory, "measure_sharpness", with_reference)
    records = {name: trajectory.run(p, begin, 2.0) for name, p in problems.items()}
    monkeypatch.setattr(trajectory, "measure_sharpness", real)
    steps = len(records["lanczos"].sharpness) - 1
    ref = np.array(reference[:steps])
    assert np.allclose(ref, reference[steps : 2 * steps], rtol=1e-6)  # the same points
    error = {
        name: np.abs(r.sharpness[1:] - ref) / ref for name, r in records.items()
    }  # relative error per step
    seconds: dict[str, list[float]] = {name: [] for name in problems}

    def run_one(name):
        began = time.process_time()
        trajectory.run(problems[name], begin, 2.0)
        seconds[name].append(time.process_time() - began)

    benchmark.pedantic(
        run_one,
        setup=lambda: (run_one("authors-power-20"), ((), {"name": "lanczos"}))[1],
        rounds=_rounds(3),
        iterations=1,
    )
    lanczos_s = statistics.median(seconds["lanczos"])
    power_s = statistics.median(seconds["authors-power-20"])
    benchmark.extra_info.update(
        {
            "lanczos_cpu_s": seconds["lanczos"],
            "power20_cpu_s": seconds["authors-power-20"],
            "speedup": power_s / lanczos_s,
            "lanczos_hvps_per_step": float(records["lanczos"].hvps[1:].mean()),
            "lanczos_median_rel_error": float(np.median(error["lanczos"])),
            "lanczos_max_rel_error": float(error["lanczos"].max()),
            "power20_median_rel_error": float(np.median(error["authors-power-20"])),
            "power20_max_rel_error": float(error["authors-power-20"].max()),
        }
    )


# -- (d) start-up of `run` before the first product ----------------------------------------


def test_run_start_up_first_and_second_process(benchmark, tmp_path):
    """CPU and wall seconds from the start of `phasebench run` to its first estimator product,
    in a process with an empty cache (it calibrates the HVP backend) and in the next one (it
    reads the choice from disk); ``startup_driver.py`` stops the process at that product."""
    driver = [sys.executable, str(HERE / "startup_driver.py"), "run", "--out"]
    figures: dict[str, list[dict]] = {"first": [], "second": []}

    def pair():
        cache = tmp_path / f"cache-{len(figures['first'])}"
        for which in ("first", "second"):
            out = tmp_path / f"{which}.h5"
            out.unlink(missing_ok=True)
            env = environment(None, cache) | {"STARTUP_T0": repr(time.time())}
            cpu, wall, stdout = cpu_run([*driver, str(out)], env)
            figures[which].append({"process_cpu_s": cpu, **json.loads(stdout.splitlines()[-1])})

    benchmark.pedantic(pair, rounds=_rounds(3), iterations=1)

    def median(which, key):
        return statistics.median(f[key] for f in figures[which])

    benchmark.extra_info.update(
        {
            **{
                f"{which}_{key}": median(which, key)
                for which in figures
                for key in ("cpu_s", "wall_s", "calibration_hvps")
            },
            "saved_cpu_s": median("first", "cpu_s") - median("second", "cpu_s"),
        }
    )
