"""The probe's shortcuts (loss reuse, barrier end points, the interpolated first layer) give
the plain loop's numbers: both paths are computed here, in the same process."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from probe_support import config
from torch import nn

from phasebench.plugins import components
from phasebench.probe import barrier as barrier_module
from phasebench.probe import shortcuts, trajectory
from phasebench.probe.first_layer import linear_first
from phasebench.probe.problem import Problem

torch.set_num_threads(1)


def _both(monkeypatch, compute):
    """``compute()`` with the shortcuts off, then on."""
    monkeypatch.setenv(shortcuts.PLAIN, "1")
    plain = compute()
    monkeypatch.setenv(shortcuts.PLAIN, "0")
    return plain, compute()


def _assert_same_run(plain, fast):
    assert fast.diverged == plain.diverged and fast.diverged_step == plain.diverged_step
    np.testing.assert_array_equal(fast.hvps, plain.hvps)
    np.testing.assert_array_equal(fast.converged, plain.converged)
    np.testing.assert_allclose(fast.loss, plain.loss, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(fast.batch_loss, plain.batch_loss, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(fast.sharpness, plain.sharpness, rtol=1e-6, equal_nan=True)
    assert fast.barrier_loss.shape == plain.barrier_loss.shape
    np.testing.assert_allclose(fast.barrier_loss, plain.barrier_loss, rtol=1e-6)


def _probe(**protocol):
    problem = Problem.build(config("fcn", {}, **protocol), components())
    return problem, trajectory.start(problem)


def test_default_probe_small_runs_equal_the_plain_loop(monkeypatch):
    """The default probe (fcn 4x128, he, mse, sgd, lanczos) on smaller batches: a run that
    trains and one that diverges are the same with and without shortcuts."""
    problem, begin = _probe(sharpness_examples=128, loss_examples=128, steps=4, barrier_points=21)
    for c in (3.0, 64.0):
        plain, fast = _both(monkeypatch, lambda c=c: trajectory.run(problem, begin, c))
        _assert_same_run(plain, fast)
    assert plain.diverged  # c = 64 diverges: the loss reuse sees it at the same step


@pytest.mark.slow
def test_default_probe_runs_equal_the_plain_loop(monkeypatch):
    """The default probe itself, at its full batch sizes, over c of every phase."""
    problem, begin = _probe()
    for c in (1.0, 2.0, 4.0, 8.0, 16.0, 40.0):
        plain, fast = _both(monkeypatch, lambda c=c: trajectory.run(problem, begin, c))
        _assert_same_run(plain, fast)


def test_loss_is_computed_plainly_when_the_batches_differ(monkeypatch):
    problem, begin = _probe(sharpness_examples=64, loss_examples=96, steps=2, barrier_points=5)
    assert not shortcuts.same_examples(problem)
    plain, fast = _both(monkeypatch, lambda: trajectory.run(problem, begin, 2.0))
    _assert_same_run(plain, fast)


def _segment(model_name, options, **protocol):
    problem = Problem.build(config(model_name, options, **protocol), components())
    model = problem.initial_model()
    theta0 = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    step = torch.randn(theta0.shape, generator=torch.Generator().manual_seed(1))
    theta_t = theta0 + 0.05 * step * theta0.abs().mean()
    return problem, model, theta0, theta_t


def _barrier(problem, model, theta0, theta_t, points=9):
    tau = np.linspace(0.0, 1.0, points)
    trajectory.load_vector(model, theta0)
    loss0 = problem.eval_loss(model)
    trajectory.load_vector(model, theta_t)
    loss_t = problem.eval_loss(model)
    return barrier_module.barrier_losses(
        problem, model, theta0, theta_t, tau, loss0, loss_t, trajectory.load_vector
    )


@pytest.mark.parametrize(
    ("model_name", "options"),
    [
        ("fcn", {"depth": 3, "width": 32, "bias": True}),
        ("myrtle", {"width": 4}),
        ("resnet", {"width": 4}),
    ],
)
def test_interpolated_first_layer_equals_the_plain_barrier(monkeypatch, model_name, options):
    """x W1(tau) = (1 - tau) x W1_0 + tau x W1_T: fcn (bias too) and convolutional models."""
    problem, model, theta0, theta_t = _segment(model_name, options, loss_examples=24)
    used = []
    prepare = barrier_module._Interpolation.prepare.__func__

    def spy(cls, *args):
        found = prepare(cls, *args)
        used.append(found is not None)
        return found

    monkeypatch.setattr(barrier_module._Interpolation, "prepare", classmethod(spy))
    plain, fast = _both(monkeypatch, lambda: _barrier(problem, model, theta0, theta_t))
    assert used == [True]
    assert np.all(np.abs(fast - plain) <= 1e-6 * np.abs(plain))
    assert np.isfinite(plain).all() and len(set(plain.round(12))) > 1


class _SquaredWeights(nn.Module):
    """x (W * W)^T: NOT linear in W, though a model may wrongly declare it so."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / n_in**0.5)

    def forward(self, x):
        return x @ (self.weight * self.weight).T


class _Declared(nn.Module):
    def __init__(self, first: nn.Module, outputs: int = 10) -> None:
        super().__init__()
        self.first = first
        self.head = nn.Linear(8, outputs)
        self.phasebench_linear_first = "first"

    def forward(self, x):
        return self.head(torch.relu(self.first(x.flatten(1))))


def test_a_wrongly_declared_first_layer_falls_back_to_the_plain_barrier(monkeypatch):
    problem, _, _, _ = _segment("fcn", {"depth": 2, "width": 8}, loss_examples=24)
    model = _Declared(_SquaredWeights(784, 8))
    theta0 = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    theta_t = theta0 + 0.3 * torch.randn(theta0.shape, generator=torch.Generator().manual_seed(2))
    plain, fast = _both(monkeypatch, lambda: _barrier(problem, model, theta0, theta_t))
    np.testing.assert_allclose(fast, plain, rtol=1e-12)


def test_which_first_layers_are_linear():
    assert isinstance(linear_first(nn.Sequential(nn.Flatten(), nn.Linear(4, 2))), nn.Linear)
    conv = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), nn.Flatten())
    assert isinstance(linear_first(conv), nn.Conv2d)
    assert linear_first(nn.Sequential(nn.ReLU(), nn.Linear(4, 2))) is None  # not first
    assert linear_first(nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 2))) is None

    class Scaled(nn.Linear):  # a subclass may compute anything
        pass

    assert linear_first(nn.Sequential(Scaled(4, 2))) is None
    declared = _Declared(nn.Linear(784, 8))
    assert linear_first(declared) is declared.first
    declared.phasebench_linear_first = ""
    assert linear_first(declared) is None
    declared.phasebench_linear_first = "no.such.layer"
    assert linear_first(declared) is None


def test_the_model_check_refuses_a_wrong_declaration():
    from phasebench.testing.common import ConformanceError
    from phasebench.testing.models import check_model

    def good(shape, outputs):
        return _Declared(nn.Linear(784, 8), outputs)

    def squared(shape, outputs):
        return _Declared(_SquaredWeights(784, 8), outputs)

    def missing(shape, outputs):
        model = _Declared(nn.Linear(784, 8), outputs)
        model.phasebench_linear_first = "nowhere"
        return model

    assert check_model(good)
    with pytest.raises(ConformanceError, match="not linear in its parameters"):
        check_model(squared)
    with pytest.raises(ConformanceError, match="names no submodule"):
        check_model(missing)
