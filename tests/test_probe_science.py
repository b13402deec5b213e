"""The probe against theory: the uv model's closed-form recursion, the zero-last-layer c_loss = 2,
the ordering of the constants, bisection against the grid."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from probe_support import assert_ordered, config, uv_config

from phasebench.config import ComponentSpec
from phasebench.plugins import components
from phasebench.probe import trajectory
from phasebench.probe.grid import Grid
from phasebench.probe.problem import Problem
from phasebench.probe.scan import Search, run_scan
from phasebench.theory import (
    uv_hessian_top,
    uv_hessian_top_of,
    uv_loss_catapult_c,
    uv_recursion,
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _uv_weights(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    model = problem.initial_model()
    u, v = (p.detach().double().flatten().numpy() for p in model.parameters())
    return u, v


@pytest.mark.parametrize("seed", [0, 1])
def test_uv_probe_follows_the_closed_form_recursion(seed):
    problem = Problem.build(uv_config(seed=seed), components())
    u, v = _uv_weights(problem)
    n = len(u)
    begin = trajectory.start(problem)
    assert begin.record.lambda0 == pytest.approx(uv_hessian_top(u, v), rel=1e-10)
    f0 = float(v @ u) / math.sqrt(n)
    assert begin.record.loss0 == pytest.approx(f0**2 / 2, rel=1e-10)
    for c in (1.5, 2.5, 3.5):
        run = trajectory.run(problem, begin, c)
        f, _ = uv_recursion(f0, float(u @ u + v @ v) / n, run.eta, n, 10)
        np.testing.assert_allclose(run.loss, f**2 / 2, rtol=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uv_c_loss_matches_the_recursion_and_nothing_catapults_below_two(seed):
    config = uv_config(seed=seed)
    search = Search("grid", Grid(x_min=0.0, x_max=2.5, x_step=0.05))
    outcome = run_scan(config, search, components())
    u, v = _uv_weights(Problem.build(config, components()))
    expected = uv_loss_catapult_c(u, v, search.grid.cs())
    c_loss = outcome.constants["c_loss"]
    assert c_loss.determined
    assert abs(c_loss.value - expected) <= 0.1
    assert 2.0 <= c_loss.value < 2.5  # approaches 2 as the width grows
    for run in outcome.summaries:
        if run.c < 2.0:
            assert run.loss_ratio_max <= 1.0, run
    assert outcome.constants["c_max"].value <= 4.0 + 1e-9  # linear model: c_max -> 4
    assert_ordered(outcome.constants)


def test_zero_last_layer_catapults_at_exactly_two():
    """f_0 = 0, so L_0 = 0.05 and the loss catapults as soon as eta > 2 / lambda0.

    With the last layer at zero the hidden layers' gradients vanish at initialization, so the
    sharpness grows a little at every c as they wake up: c_sharp needs the paper's eps = 0.05.
    """
    probe = config(
        "fcn",
        {"depth": 2, "width": 256},
        init="zero-last",
        batch_size=256,
        sharpness_examples=256,
        loss_examples=512,
        steps=10,
    )
    search = Search("grid", Grid(x_min=0.8, x_max=1.3, x_step=0.1), sharp_eps=0.05)
    outcome = run_scan(probe, search, components())
    assert outcome.start.loss0 == pytest.approx(0.05, rel=1e-6)
    c_loss = outcome.constants["c_loss"]
    assert c_loss.determined, outcome.constants
    assert abs(math.log2(c_loss.value) - 1.0) <= 0.1 + 1e-9
    assert_ordered(outcome.constants)


def test_bisection_agrees_with_the_grid_with_fewer_runs():
    config = uv_config(seed=3)
    grid = Grid(x_min=0.0, x_max=3.0, x_step=0.05)
    by_grid = run_scan(config, Search("grid", grid), components())
    by_bisect = run_scan(config, Search("bisect", grid, tol=0.05, coarse_step=1.0), components())
    for name in ("c_loss", "c_max"):
        a, b = by_grid.constants[name], by_bisect.constants[name]
        assert a.determined and b.determined, (name, a, b)
        assert abs(math.log2(a.value) - math.log2(b.value)) <= 0.05 + 0.05 + 1e-9, (name, a, b)
    assert len(by_bisect.summaries) < len(by_grid.summaries) / 2
    assert_ordered(by_bisect.constants)


def test_divergence_is_recorded_and_stops_the_scan():
    config = uv_config(seed=0)
    outcome = run_scan(config, Search("grid", Grid(values=(1.0, 8.0, 16.0))), components())
    c1, c8 = outcome.runs
    assert not c1.diverged and c8.diverged
    assert [r.c for r in outcome.runs] == [1.0, 8.0]  # 16 never ran
    assert c8.diverged_step >= 1 and np.isnan(c8.loss[c8.diverged_step + 1 :]).all()
    assert c8.barrier_loss.size == 0
    assert outcome.constants["c_max"].value == 1.0


def test_at_criticality_the_catapult_moves_up_and_the_sharpness_falls_more_with_depth_over_width():
    """The paper's fcn at He initialization, fast version (results/REPORT.md has the full one):
    c_loss and c_sharp above 2, c_loss growing with d/w, and for c < c_loss a sharpness that
    falls more at larger d/w."""
    search = Search("grid", Grid(x_min=0.0, x_max=4.0, x_step=0.25))
    outcomes = {}
    for depth, width in ((2, 128), (8, 32)):  # d/w = 1/64 and 1/4
        probe = config(
            "fcn",
            {"depth": depth, "width": width},
            batch_size=256,
            sharpness_examples=256,
            loss_examples=512,
        )
        outcomes[depth / width] = outcome = run_scan(probe, search, components())
        assert_ordered(outcome.constants)
    shallow, deep = outcomes[2 / 128], outcomes[8 / 32]
    assert shallow.constants["c_loss"].determined and shallow.constants["c_loss"].value > 2
    assert shallow.constants["c_sharp"].value >= shallow.constants["c_loss"].value
    deep_c_loss = deep.constants["c_loss"]
    # at d/w = 1/4 the loss does not catapult within the grid, or later than at 1/64
    assert (not deep_c_loss.determined and deep_c_loss.status == "above-grid") or (
        deep_c_loss.value > shallow.constants["c_loss"].value
    )
    at_one = {k: next(r for r in o.summaries if r.c == 1.0) for k, o in outcomes.items()}
    assert at_one[8 / 32].sharp_ratio_max < at_one[2 / 128].sharp_ratio_max < 1.0


def _gd_on_vectors(u, v, eta, steps, x, y):
    """Gradient descent on (f - y)^2 / 2 written on the vectors themselves, in float64."""
    n = len(u)
    f_t, lam_t, top_t = [], [], []
    for _ in range(steps + 1):
        f = float(v @ u) * x / math.sqrt(n)
        f_t.append(f)
        lam_t.append(x * x * float(u @ u + v @ v) / n)
        top_t.append(uv_hessian_top(u, v, x, y))
        a = eta * (f - y) * x / math.sqrt(n)
        u, v = u - a * v, v - a * u
    return np.array(f_t), np.array(lam_t), np.array(top_t)


@pytest.mark.parametrize(("x", "y"), [(1.0, 0.0), (1.0, 1.5), (0.7, -2.0)])
def test_the_uv_recursion_and_its_hessian_top_are_gradient_descent_exactly(x, y):
    rng = np.random.default_rng(3)
    n = 40
    u, v = rng.normal(size=n), rng.normal(size=n)
    eta = 1.3 / uv_hessian_top(u, v, x, y)
    f, lam, top = _gd_on_vectors(u, v, eta, 25, x, y)
    rec_f, rec_lam = uv_recursion(
        float(v @ u) * x / math.sqrt(n), float(u @ u + v @ v) / n, eta, n, 25, x, y
    )
    np.testing.assert_allclose(rec_f, f, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rec_lam, lam, rtol=1e-9)
    np.testing.assert_allclose(uv_hessian_top_of(rec_f, rec_lam, n, x, y), top, rtol=1e-9)


def test_the_uv_probe_with_a_target_follows_the_recursion():
    y = 1.5
    config = uv_config(width=64, seed=1)
    config = replace(
        config, dataset=ComponentSpec.of("single-example", {**config.dataset.opts(), "y": y})
    )
    problem = Problem.build(config, components())
    u, v = _uv_weights(problem)
    n = len(u)
    begin = trajectory.start(problem)
    assert begin.record.lambda0 == pytest.approx(uv_hessian_top(u, v, 1.0, y), rel=1e-9)
    run = trajectory.run(problem, begin, 1.8)
    f, lam = uv_recursion(
        float(v @ u) / math.sqrt(n), float(u @ u + v @ v) / n, run.eta, n, 10, y=y
    )
    np.testing.assert_allclose(run.loss, (f - y) ** 2 / 2, rtol=1e-8)
    np.testing.assert_allclose(run.sharpness, uv_hessian_top_of(f, lam, n, y=y), rtol=1e-7)
