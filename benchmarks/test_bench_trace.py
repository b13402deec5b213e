"""What a trace of the default configuration costs: Hessian-vector products per measurement
(warm-started from the previous measurement, ``--every 20``; the target is <= 3 on average),
with each measurement's relative error against a tight reference trace (Lanczos tol 1e-8 at
the same parameters, computed after the timed round; at most tol, what the residual rule at
tol 1e-3 promises), and
the share of the run spent writing the file (each write copies it: kept under ~10% by writing
at most every ``flush_seconds``).

One round each (a few hundred steps of the default fcn on the shipped Fashion-MNIST subset; the
figures are in extra_info). ``test_trace_write_share`` also measures one write of a trace the
size of a 5,000-step, every-20 trace (251 rows and a checkpoint) to project that run's cost.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from phasebench import kinds
from phasebench.plugins import components
from phasebench.probe import study, trace, trace_study
from phasebench.probe.trajectory import measure_sharpness
from phasebench.results.writer import ResultsWriter

STEPS, EVERY = 400, 20


def default_trace(tmp_path, name: str, estimator_options: dict | None = None, **protocol):
    comps = components()
    names = {kind.field: kind.default for kind in kinds.probe_kinds()}
    base = study.template(
        comps,
        study.Choices(names, {"estimator": estimator_options or {}}),
        steps=STEPS,
        every=EVERY,
        **protocol,
    )
    return comps, base.with_c(1.0), tmp_path / f"{name}.h5"


def run_trace(comps, config, out):
    out.unlink(missing_ok=True)
    planned = trace_study.plan([config], out, comps)
    return trace_study.execute(planned, comps).traces[0]


#: the reference: Lanczos to a relative residual of 1e-8 at the same parameters
TIGHT = {"tol": 1e-8, "max_iter": 200, "stop": "residual"}
#: the trace's default (tol 1e-3, ``stop="auto"``: the eigenvalue rule in a trace) and the
#: residual rule it replaced there, at the same tol
RULES = {"default": {}, "residual": {"stop": "residual"}}


@pytest.mark.parametrize("rule", list(RULES))
def test_trace_products_per_measurement(benchmark, tmp_path, monkeypatch, rule):
    torch.set_num_threads(1)
    comps, config, out = default_trace(tmp_path, "products", RULES[rule])
    measured = []  # (problem, a copy of the model, the warm start) of each measurement

    def keeping(problem, model, warm, generator, **options):
        measured.append((problem, copy.deepcopy(model), warm, options))
        return measure_sharpness(problem, model, warm, generator, **options)

    monkeypatch.setattr(trace, "measure_sharpness", keeping)
    records = []
    benchmark.pedantic(
        lambda: records.append(run_trace(comps, config, out)), rounds=1, iterations=1
    )
    record = records[-1]
    tight = np.array(
        [
            measure_sharpness(
                problem,
                model,
                warm,
                torch.Generator().manual_seed(0),
                **(options | {"options": TIGHT}),
            ).eigenvalues[0]
            for problem, model, warm, options in measured[-len(record.hvps) :]
        ]
    )
    hvps = record.hvps[1:]  # row 0 starts from lambda0's own eigenvector
    error = np.abs(record.sharpness[:, 0] - tight) / np.abs(tight)
    tol = config.estimator.opts().get("tol", 1e-3)
    benchmark.extra_info.update(
        {
            "rule": rule,
            "tol": tol,
            "steps": STEPS,
            "every": EVERY,
            "measurements": int(len(hvps)),
            "hvps_per_measurement_mean": float(np.mean(hvps)),
            "hvps_per_measurement_max": int(np.max(hvps)),
            "max_relative_error": float(np.max(error)),
            "median_relative_error": float(np.median(error)),
            "relative_change_of_lambda": float(np.median(np.abs(np.diff(tight)) / tight[1:])),
        }
    )
    assert bool(record.converged.all())
    assert float(np.max(error)) <= tol  # what tol promises: an eigenvalue within tol |lambda|
    if rule == "default":
        assert float(np.mean(hvps)) <= 3  # products are counted, not timed


def test_trace_write_share(benchmark, tmp_path):
    torch.set_num_threads(1)
    comps, config, out = default_trace(tmp_path, "writes")
    writes: list[float] = []
    records = []

    def trace():
        out.unlink(missing_ok=True)
        writes.clear()
        planned = trace_study.plan([config], out, comps, flush_seconds=0)
        writer = trace_study.open_file(planned)

        def sink(record, blob):
            began = time.perf_counter()
            writer.write_trace(record, blob)
            writes.append(time.perf_counter() - began)

        records.append(trace_study.run_task(planned.tasks[0], comps, sink))

    benchmark.pedantic(trace, rounds=1, iterations=1)
    record = records[-1]
    seconds_per_step = (record.seconds - sum(writes)) / STEPS
    # one write of a 5,000-step trace's size: 251 rows and this model's checkpoint
    rows = 5000 // EVERY + 1
    grown = {
        name: np.resize(getattr(record, name), (rows, *getattr(record, name).shape[1:]))
        for name in ("measured_step", "loss", "train_loss", "grad_norm", "sharpness")
        + ("converged", "hvps", "eta_t", "threshold")
    }
    big = ResultsWriter(tmp_path / "big.h5")
    blob = b"\0" * 1_200_000
    big.write_trace(replace(record, **grown), blob)
    began = time.perf_counter()
    big.write_trace(replace(record, **grown), blob)
    big_write = time.perf_counter() - began
    run_5000 = seconds_per_step * 5000
    benchmark.extra_info.update(
        {
            "write_median_seconds": float(np.median(writes)),
            "writes": len(writes),
            "seconds_per_step_without_writes": seconds_per_step,
            "write_of_5000_step_trace_seconds": big_write,
            "projected_5000_step_run_seconds": run_5000,
            "projected_share_writing_every_measurement": rows * big_write / run_5000,
            "projected_share_flush_10s": (run_5000 / 10 + 2) * big_write / run_5000,
        }
    )
