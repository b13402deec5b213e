"""Cohen et al. 2021's headline on real data: full-batch gradient descent on 1,024 Fashion-MNIST
images (the shipped subset), fcn 784-64-64-10 ReLU He, c = 12: the sharpness falls in the
catapult, rises steadily and reaches 2 / eta, where it hovers (the mean of lambda eta / 2 over
the edge of stability within 10% of 1) while the loss keeps falling, non-monotonically. With
heavy-ball momentum 0.9 (a linear warmup from c = 0.5 over 1,000 steps keeps the ReLUs alive)
the level is (2 + 2 beta) / eta instead. Minutes on 2 cores: slow tests."""

from __future__ import annotations

import numpy as np
import pytest

import phasebench

FCN = dict(model="fcn", model_options={"depth": 3, "width": 64}, init="he")
TRACE = dict(train_examples=1024, full_batch=True, steps=20_000, every=100)

pytestmark = pytest.mark.slow


def _edge(trace):
    names = [r["name"] for r in trace.regimes]
    assert names[-1] == "edge-of-stability", trace.regimes
    assert "progressive-sharpening" in names, trace.regimes
    assert trace.eos["mean"] == pytest.approx(1.0, abs=0.1), trace.eos
    start = trace.eos["start"]
    window = trace.loss[np.asarray(trace.measured_step) >= start]
    assert window[-1] < window[0] and np.any(np.diff(window) > 0)  # falls, not monotonically


def test_full_batch_gradient_descent_reaches_and_hovers_at_two_over_eta(tmp_path):
    [trace] = phasebench.trace(**FCN, **TRACE, c=[12.0], out=tmp_path / "gd.h5").traces
    assert trace.threshold_kind == "2/eta"
    np.testing.assert_allclose(trace.threshold, 2 / trace.eta_t)
    _edge(trace)


def test_momentum_moves_the_level_to_two_plus_two_beta_over_eta(tmp_path):
    [trace] = phasebench.trace(
        **FCN,
        **TRACE,
        optimizer="momentum",
        optimizer_options={"beta": 0.9},
        schedule="linear",
        schedule_options={"warmup_steps": 1000, "init_c": 0.5},
        c=[22.8],
        out=tmp_path / "momentum.h5",
    ).traces
    assert trace.threshold_kind == "(2+2beta)/eta"
    np.testing.assert_allclose(trace.threshold, 3.8 / trace.eta_t)
    _edge(trace)
