"""The built-in optimizers: registration, the update each one makes, and bad options.

The expected updates are written out by hand (the formulas in the docstrings), so a wrong
torch argument (dampening, a swapped beta) shows up as a wrong number.
"""

from __future__ import annotations

import math

import pytest
import torch

from phasebench.errors import UsageError
from phasebench.plugins import components

torch.set_num_threads(1)


def make(name: str, params, lr: float, **options) -> torch.optim.Optimizer:
    registration = components().get("optimizer", name)
    return registration.load()(params, lr, **registration.options(options))


def quadratic_steps(name: str, steps: int, lr: float, **options) -> list[torch.Tensor]:
    """Minimize 0.5 * sum(a * theta^2): the gradient a * theta is known in closed form."""
    theta = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    optimizer = make(name, [theta], lr, **options)
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * (A * theta.square()).sum()).backward()
        optimizer.step()
        trajectory.append(theta.detach().clone())
    return trajectory


A = torch.tensor([1.0, 3.0, 0.2], dtype=torch.float64)
THETA0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)


def test_register_optimizers_registers_sgd_momentum_adam():
    registry = components().registry("optimizer")
    assert {"sgd", "momentum", "adam"} <= set(registry.names())
    assert registry.get("sgd").defaults == {}
    assert registry.get("momentum").defaults == {"beta": 0.9, "nesterov": False}
    assert registry.get("adam").defaults == {"betas": [0.9, 0.999], "eps": 1e-8, "gi": False}
    assert registry.get("adam").stored() == {"betas": [0.9, 0.999], "eps": 1e-8}


def test_sgd_is_plain_gradient_descent():
    theta, lr = THETA0.clone(), 0.3
    for got in quadratic_steps("sgd", 3, lr):
        theta = theta - lr * A * theta
        torch.testing.assert_close(got, theta)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_is_heavy_ball_or_nesterov(nesterov):
    theta, velocity, lr, beta = THETA0.clone(), torch.zeros(3, dtype=torch.float64), 0.1, 0.8
    for got in quadratic_steps("momentum", 4, lr, beta=beta, nesterov=nesterov):
        grad = A * theta
        velocity = beta * velocity + grad
        theta = theta - lr * (grad + beta * velocity if nesterov else velocity)
        torch.testing.assert_close(got, theta)


def test_adam_matches_its_formula():
    theta, lr, (b1, b2), eps = THETA0.clone(), 0.01, (0.8, 0.99), 1e-6
    m = v = torch.zeros(3, dtype=torch.float64)
    for t, got in enumerate(quadratic_steps("adam", 3, lr, betas=[b1, b2], eps=eps), start=1):
        grad = A * theta
        m, v = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad.square()
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (v_hat.sqrt() + eps)
        torch.testing.assert_close(got, theta)


@pytest.mark.parametrize(
    ("name", "lr", "options", "words"),
    [
        ("sgd", 0.0, {}, "learning rate must be > 0"),
        ("sgd", -1.0, {}, "learning rate must be > 0"),
        ("sgd", math.inf, {}, "learning rate must be > 0"),
        ("momentum", 0.1, {"beta": 1.0}, "beta must be in [0, 1)"),
        ("momentum", 0.1, {"beta": -0.1}, "beta must be in [0, 1)"),
        ("momentum", 0.1, {"beta": 0.0, "nesterov": True}, "nesterov needs beta > 0"),
        ("momentum", 0.1, {"nesterov": "yes"}, "nesterov must be true or false"),
        ("adam", 0.1, {"betas": [0.9]}, "betas must be two numbers"),
        ("adam", 0.1, {"betas": [0.9, 1.5]}, "betas[1] must be in [0, 1)"),
        ("adam", 0.1, {"eps": 0.0}, "eps must be a positive number"),
    ],
)
def test_bad_options_fail_with_one_line(name, lr, options, words):
    with pytest.raises(UsageError) as error:
        make(name, [torch.nn.Parameter(torch.zeros(2))], lr, **options)
    assert words in str(error.value) and name in str(error.value)
    assert "\n" not in str(error.value)


def test_an_option_an_optimizer_does_not_take_is_a_usage_error():
    with pytest.raises(UsageError, match="has no option 'momentum'"):
        components().get("optimizer", "sgd").options({"momentum": 0.9})
