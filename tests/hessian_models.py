"""Small models and problems the Hessian tests share (not a test module)."""

from __future__ import annotations

import math

import torch
from torch import nn


def half_mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return 0.5 * (outputs - targets).square().mean()


class UV(nn.Module):
    """The uv model of the paper: f(x) = v^T u x / sqrt(n)."""

    def __init__(self, n: int, generator: torch.Generator) -> None:
        super().__init__()
        self.n = n
        self.u = nn.Parameter(torch.randn(n, generator=generator, dtype=torch.float64))
        self.v = nn.Parameter(torch.randn(n, generator=generator, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.v @ self.u) * x / math.sqrt(self.n)


class Quadratic(nn.Module):
    """Outputs its parameter vector; with ``QuadraticLoss(A)`` the Hessian is exactly A."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.linspace(0.1, 1.0, n, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.theta.expand(len(x), -1)


class QuadraticLoss:
    def __init__(self, matrix: torch.Tensor) -> None:
        self.matrix = matrix

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        theta = outputs[0]
        return 0.5 * theta @ self.matrix @ theta + 0.0 * targets.sum()


def quadratic_problem(eigenvalues: list[float], seed: int = 0):
    """(model, loss, inputs, targets) whose Hessian is Q diag(eigenvalues) Q^T."""
    gen = torch.Generator().manual_seed(seed)
    n = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    matrix = q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T
    model = Quadratic(n)
    inputs = torch.zeros(2, 1, dtype=torch.float64)
    targets = torch.zeros(2, n, dtype=torch.float64)
    return model, QuadraticLoss(0.5 * (matrix + matrix.T)), inputs, targets


def mlp(seed: int = 0, width: int = 12, inputs: int = 6, outputs: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(inputs, width),
        nn.Tanh(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, outputs),
    ).double()


def cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, bias=False),
        nn.Tanh(),
        nn.Conv2d(3, 4, 3, bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    ).double()


def data(shape: tuple[int, ...], n: int = 24, outputs: int = 3, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=gen, dtype=torch.float64)
    y = torch.randn(n, outputs, generator=gen, dtype=torch.float64)
    return x, y


def dense_hessian(model: nn.Module, loss, inputs, targets) -> torch.Tensor:
    """The reference: torch.autograd.functional.hessian of the flat-parameter loss."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    buffers = {n: b.clone() for n, b in model.named_buffers()}

    def f(theta):
        parts, start = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            size = math.prod(shape)
            parts[name] = theta[start : start + size].view(shape)
            start += size
        out = torch.func.functional_call(model, {**parts, **buffers}, (inputs,))
        return loss(out, targets)

    return torch.autograd.functional.hessian(f, flat)
