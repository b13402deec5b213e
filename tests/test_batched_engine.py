"""The batched engine (``phasebench.probe.batched``) gives the sequential engine's runs: the same
ids, losses and sharpness within the estimator's tolerance, the same divergence, and a
diverged member never poisons the others."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from probe_support import config, uv_config

from phasebench import plugins
from phasebench.errors import UsageError
from phasebench.probe import batched, trajectory
from phasebench.probe.grid import Grid, Search
from phasebench.probe.problem import Problem
from phasebench.probe.scan import run_scan

torch.set_num_threads(1)

GAUSS = {"n_train": 256, "n_test": 16, "dim": 8}


def small_fcn(**protocol):
    sizes = dict(batch_size=32, sharpness_examples=64, loss_examples=64, barrier_points=5)
    return config("fcn", {"depth": 2, "width": 8}, "gaussian", GAUSS, **{**sizes, **protocol})


def assert_same_runs(sequential, together, rel):
    for a, b in zip(sequential, together, strict=True):
        assert (a.run_id, a.c, a.diverged, a.diverged_step) == (
            b.run_id,
            b.c,
            b.diverged,
            b.diverged_step,
        )
        scale = a.sharpness[0]
        np.testing.assert_allclose(b.sharpness, a.sharpness, rtol=0, atol=rel * scale)
        np.testing.assert_allclose(b.loss, a.loss, rtol=rel, atol=rel * a.loss[0])
        np.testing.assert_allclose(b.batch_loss, a.batch_loss, rtol=rel, atol=rel * a.loss[0])
        assert np.array_equal(np.isnan(b.sharpness), np.isnan(a.sharpness))
        assert b.barrier_loss.shape == a.barrier_loss.shape
        np.testing.assert_allclose(b.barrier_loss, a.barrier_loss, rtol=rel, atol=rel)
        assert b.provenance["engine"] == "batched"


@pytest.mark.parametrize(
    ("cfg", "cs", "rel"),
    [
        (small_fcn(steps=4), [0.5, 2.0, 40.0], 1e-5),  # lanczos tol 1e-3: error ~ tol^2
        (uv_config(32, steps=5, barrier_points=5), [1.0, 3.0, 6.0], 1e-9),
    ],
    ids=["fcn", "uv"],
)
def test_members_trained_together_equal_the_sequential_runs(cfg, cs, rel):
    problem = Problem.build(cfg, plugins.components())
    begin = trajectory.start(problem)
    sequential = [trajectory.run(problem, begin, c) for c in cs]
    together = batched.run_members(problem, begin, cs)
    assert sequential[-1].diverged and not any(r.diverged for r in sequential[:-1])
    assert_same_runs(sequential, together, rel)
    # the diverged member's later values are nan; the others are finite throughout
    last = together[-1]
    assert np.isnan(last.loss[last.diverged_step + 1 :]).all()
    assert all(np.isfinite(r.sharpness).all() for r in together[:-1])


def test_members_follow_their_schedule_as_the_sequential_runs_do():
    from dataclasses import replace

    from phasebench.config import ComponentSpec

    warmup = ComponentSpec.of(
        "linear", plugins.components().get("schedule", "linear").options({"warmup_steps": 3})
    )
    cfg = replace(uv_config(16, steps=4, barrier_points=3), schedule=warmup)
    problem = Problem.build(cfg, plugins.components())
    begin = trajectory.start(problem)
    sequential = [trajectory.run(problem, begin, c) for c in (1.0, 3.0)]
    together = batched.run_members(problem, begin, [1.0, 3.0])
    assert_same_runs(sequential, together, 1e-9)
    for a, b in zip(sequential, together, strict=True):
        np.testing.assert_allclose(b.eta_t, a.eta_t, rtol=1e-12)
        assert b.eta_t[0] < b.eta_t[-1]  # a warmup


def test_a_batched_grid_scan_keeps_the_runs_up_to_its_first_divergence():
    components = plugins.components()
    search = Search(grid=Grid(values=(0.5, 1.0, 40.0, 60.0)))
    cfg = small_fcn(steps=3)
    sequential = run_scan(cfg, search, components)
    together = run_scan(cfg, search, components, engine="batched")
    assert [r.run_id for r in together.runs] == [r.run_id for r in sequential.runs]
    assert len(together.runs) == 3  # 60 is above the first divergence: not kept
    assert together.constants == sequential.constants


def test_the_batched_engine_refuses_what_it_does_not_batch_in_one_line():
    with pytest.raises(UsageError, match="engine batched measures the sharpness by Lanczos"):
        batched.check_supported(config("fcn", {}, estimator="power"))
    with pytest.raises(UsageError, match="unknown engine 'fast'"):
        batched.check_engine("fast")
