"""The trace against theory: the uv model on one example with a nonzero target (Kalra, He &
Barkeshli 2023) under gradient descent catapults, its sharpness drops, rises back and settles
on a period-2 orbit around 2 / eta: the edge of stability. Every measurement is checked against
the model's own two-variable recursion (``phasebench.theory``)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from probe_support import uv_config

from phasebench.cli.trace_options import traced
from phasebench.config import ComponentSpec
from phasebench.plugins import components
from phasebench.probe import trace_study
from phasebench.probe.problem import Problem
from phasebench.results import load
from phasebench.theory import uv_hessian_top_of, uv_recursion

WIDTH, Y, C, STEPS = 64, 9.6, 2.5, 400  # y = 1.2 sqrt(n): the minimum needs lambda > 2 / eta


@pytest.fixture(scope="module")
def uv_trace(tmp_path_factory):
    base = uv_config(width=WIDTH, seed=0, steps=STEPS)
    dataset = ComponentSpec.of(
        "single-example", {**base.dataset.opts(), "y": Y, "dtype": "float64"}
    )
    estimator = ComponentSpec.of("lanczos", {**base.estimator.opts(), "tol": 1e-10})
    config = traced(
        replace(base, dataset=dataset, estimator=estimator, full_batch=True),
        every=1,
        top_k=1,
        train_examples=0,
    ).with_c(C)
    out = tmp_path_factory.mktemp("uv") / "trace.h5"
    planned = trace_study.plan([config], out, components(), flush_seconds=3600.0)
    assert trace_study.execute(planned, components()).failed == 0
    (trace,) = load(out).traces
    model = Problem.build(config, components()).initial_model()
    u, v = (p.detach().double().flatten().numpy() for p in model.parameters())
    return trace, u, v


def test_the_uv_trace_is_the_recursion_step_by_step(uv_trace):
    trace, u, v = uv_trace
    n = len(u)
    f, ntk = uv_recursion(
        float(v @ u) / math.sqrt(n), float(u @ u + v @ v) / n, trace.eta, n, STEPS, y=Y
    )
    assert trace.measured_step.tolist() == list(range(STEPS + 1)) and not trace.diverged
    np.testing.assert_allclose(trace.loss, (f - Y) ** 2 / 2, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(trace.sharpness[:, 0], uv_hessian_top_of(f, ntk, n, y=Y), rtol=1e-6)


def test_the_uv_trace_catapults_then_sits_at_the_edge_of_stability(uv_trace):
    trace, _, _ = uv_trace
    r = trace.sharpness[:, 0] * trace.eta_t / 2
    assert r[1] > 1.5 and trace.loss[2] > trace.loss[1]  # the catapult: above 2 / eta, loss up
    assert r[2:5].min() < 0.6  # the sharpness drops far below the threshold ...
    late = r[STEPS // 2 :]
    assert late.mean() == pytest.approx(1.0, abs=0.02)  # ... and comes back to oscillate at it
    assert late.std() > 0.05 and np.all(np.abs(np.diff(late)) > 0.1)  # a period-2 flip
    assert trace.regimes[-1]["name"] == "edge-of-stability"
    assert trace.eos["mean"] == pytest.approx(1.0, abs=0.02)
    assert trace.loss[-1] > 1e-3  # the loss does not converge: GD cannot settle there
