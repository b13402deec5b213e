"""Critical sharpness on quadratics, where eta_c is known in closed form."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from phasebench.errors import UsageError
from phasebench.hessian.critical import MAX_PASSES, critical_sharpness, line_search
from phasebench.hessian.matrix import MatrixOperator

EIGENVALUES = (0.2, 0.5, 1.0, 3.0, 8.0)


class Point(nn.Module):
    """theta itself is the output: with ``quadratic_loss`` the loss is 1/2 theta^T A theta."""

    def __init__(self, theta: torch.Tensor) -> None:
        super().__init__()
        self.theta = nn.Parameter(theta.clone())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.theta.expand(len(inputs), -1)


def quadratic(matrix: torch.Tensor):
    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x = outputs[0]
        return 0.5 * x @ matrix @ x

    return loss


@pytest.fixture
def problem():
    operator = MatrixOperator.with_spectrum(EIGENVALUES, seed=3)
    values, vectors = torch.linalg.eigh(operator.matrix)
    return (
        operator.matrix,
        values,
        vectors,
        torch.zeros(1, 1),
        torch.zeros(1, 5, dtype=torch.float64),
    )


def test_along_the_top_eigenvector_it_is_the_top_eigenvalue(problem):
    matrix, _, vectors, x, y = problem
    model = Point(0.7 * vectors[:, -1])
    found = critical_sharpness(model, quadratic(matrix), x, y)
    assert found.converged
    assert found.value == pytest.approx(8.0, rel=1e-6)
    assert found.forward_passes <= MAX_PASSES
    assert torch.equal(model.theta.detach(), 0.7 * vectors[:, -1])  # untouched
    assert model.theta.grad is None


def test_along_a_mixed_gradient_it_is_the_gradients_rayleigh_quotient(problem):
    matrix, _, vectors, x, y = problem
    theta = vectors @ torch.tensor([1.0, -0.5, 2.0, 0.3, 0.1], dtype=torch.float64)
    g = matrix @ theta
    expected = float(g @ matrix @ g / (g @ g))  # the loss rises for eta > 2 g.g / g.A.g
    for eta in (None, 1e-4, 50.0):  # a poor first step costs passes, not accuracy
        found = critical_sharpness(Point(theta), quadratic(matrix), x, y, eta=eta)
        assert found.converged, eta
        assert found.value == pytest.approx(expected, rel=1e-2), eta
        assert found.forward_passes <= MAX_PASSES
    exact = critical_sharpness(Point(theta), quadratic(matrix), x, y, eta=0.1)
    assert exact.forward_passes == 3  # current loss, the guess, the fitted root
    assert not 7.0 < expected < 8.0  # a mixed direction: not the top eigenvalue


def test_along_a_given_direction(problem):
    matrix, _, vectors, x, y = problem
    theta = vectors @ torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    g = matrix @ theta
    d = -(vectors[:, 0] * float(g @ vectors[:, 0]) + vectors[:, 2] * float(g @ vectors[:, 2]))
    expected = float(d @ matrix @ d / -(g @ d))
    found = critical_sharpness(Point(theta), quadratic(matrix), x, y, direction=d)
    assert found.converged and found.value == pytest.approx(expected, rel=1e-2)
    uphill = critical_sharpness(Point(theta), quadratic(matrix), x, y, direction=-d)
    assert math.isnan(uphill.value) and not uphill.converged and uphill.forward_passes == 1
    with pytest.raises(UsageError, match="5 numbers"):
        critical_sharpness(Point(theta), quadratic(matrix), x, y, direction=torch.ones(4))


def test_a_non_quadratic_rise_is_bracketed_and_refined():
    # f(eta) = -eta + eta^4: the root is eta = 1, where the quadratic fit never lands
    for guess in (0.3, 2.0):
        found, evaluations, converged = line_search(lambda e: -e + e**4, -1.0, guess)
        assert converged and found == pytest.approx(1.0, rel=1e-2) and evaluations <= 9
    # a first step 1000x too large: bisected down, the best bracket returned, not converged
    found, evaluations, converged = line_search(lambda e: -e + e**4, -1.0, 1e-3)
    assert evaluations == MAX_PASSES - 1 and not converged and found == pytest.approx(1, rel=0.7)
    # a loss that never rises within the budget: no value, not converged
    found, evaluations, converged = line_search(lambda e: -e, -1.0, 0.1, max_evaluations=4)
    assert math.isnan(found) and evaluations == 4 and not converged
    # a loss that is not finite past a point counts as a rise
    found, _, converged = line_search(lambda e: -e + e * e / 2 if e < 3 else math.nan, -1.0, 1000.0)
    assert converged and found == pytest.approx(2.0, rel=1e-2)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_the_update_direction_is_the_optimizers_step_per_unit_learning_rate(name):
    import copy
    from types import SimpleNamespace

    from phasebench.plugins import components
    from phasebench.probe.spectrum import critical_at, update_direction

    registration = components().get("optimizer", name)
    defaults = registration.options({})

    def make(module, lr):  # as Problem.optimizer(model, lr)
        return registration.load()(module.parameters(), lr, **defaults)

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 3, generator=gen), torch.randn(16, 2, generator=gen)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))

    def loss(outputs, targets):
        return 0.5 * ((outputs - targets) ** 2).mean()

    problem = SimpleNamespace(
        sharpness_batch=lambda: (x, y), loss=loss, optimizer=make, dtype=torch.float32
    )
    optimizer = make(model, 0.05)
    for _ in range(2):  # some optimizer state: a momentum buffer, Adam's moments
        optimizer.zero_grad()
        loss(model(x), y).backward()
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()
    state = copy.deepcopy(optimizer.state_dict())
    d = update_direction(problem, model, optimizer)
    # the real optimizer's next step at lr 0.05, on the same batch, is 0.05 d
    optimizer.zero_grad()
    loss(model(x), y).backward()
    optimizer.step()
    moved = torch.cat([p.detach().reshape(-1) for p in model.parameters()]) - theta
    torch.testing.assert_close(moved, 0.05 * d, rtol=1e-4, atol=1e-7)
    with torch.no_grad():  # back to theta and the saved state: critical sharpness along d
        torch.nn.utils.vector_to_parameters(theta.clone(), model.parameters())
    optimizer.load_state_dict(state)
    value, passes, converged = critical_at(problem, model, None, optimizer)
    assert passes <= MAX_PASSES and value > 0  # the direction's pass included
