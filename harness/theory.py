"""Closed forms the probe is checked against: the uv model of the catapult theory.

f(x) = v^T u x / sqrt(n) on one example (x, y) with loss (f - y)^2 / 2. Gradient descent at
learning rate eta follows, exactly, a recursion in two variables, f and the NTK eigenvalue
lambda = x^2 (|u|^2 + |v|^2) / n (Lewkowycz et al. 2020 for y = 0; Kalra, He & Barkeshli 2023,
"Universal sharpness dynamics", for y != 0). With the residual r = f - y:

    f_{t+1}      = f_t - eta lambda_t r_t + eta^2 r_t^2 x^2 f_t / n
    lambda_{t+1} = lambda_t + (eta r_t x^2 / n)(eta r_t lambda_t - 4 f_t)

(both follow from u <- u - a v, v <- v - a u with a = eta r x / sqrt(n)). The Hessian is
J J^T + (r x / sqrt(n)) K, K = [[0, I], [I, 0]]: a rank-one update of a matrix with eigenvalues
+-r x / sqrt(n), whose top eigenvalue (the probe's sharpness) is a function of (f, lambda) too:

    lambda_H = max((lambda + sqrt(lambda^2 + 4 x^2 r (r + 2 f) / n)) / 2, |r| x / sqrt(n))

for n >= 2. With y = 0 the loss decreases only while eta lambda < 2 and lambda_H = lambda when
f = 0; with y != 0 a minimum needs |u| |v| >= |y| sqrt(n) / x, so lambda >= 2 |y| x / sqrt(n)
there: when that exceeds 2 / eta, gradient descent cannot settle and the sharpness oscillates
around 2 / eta (the edge of stability).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def uv_recursion(
    f0: float, ntk0: float, eta: float, n: int, steps: int, x: float = 1.0, y: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """f_t and lambda_t for t = 0..steps (lambda_t the NTK eigenvalue x^2 (|u|^2 + |v|^2) / n;
    ``ntk0`` is (|u|^2 + |v|^2) / n at t = 0, without the x^2). Values after an overflow are
    inf or nan."""
    f = np.empty(steps + 1)
    lam = np.empty(steps + 1)
    f[0], lam[0] = f0, ntk0 * x * x
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            r = f[t] - y
            f[t + 1] = f[t] - eta * lam[t] * r + eta**2 * r**2 * x * x * f[t] / n
            lam[t + 1] = lam[t] + (eta * r * x * x / n) * (eta * r * lam[t] - 4 * f[t])
    return f, lam


def uv_hessian_top_of(
    f: np.ndarray | float, ntk: np.ndarray | float, n: int, x: float = 1.0, y: float = 0.0
) -> np.ndarray:
    """The Hessian's top eigenvalue from the recursion's variables (n >= 2): what the probe and
    the trace measure as the sharpness along a uv trajectory."""
    f, ntk = np.asarray(f, dtype=float), np.asarray(ntk, dtype=float)
    r = f - y
    with np.errstate(invalid="ignore", over="ignore"):
        rank_one = (ntk + np.sqrt(ntk**2 + 4 * x * x * r * (r + 2 * f) / n)) / 2
    return np.maximum(rank_one, np.abs(r) * x / np.sqrt(n))


def uv_hessian_top(u: np.ndarray, v: np.ndarray, x: float = 1.0, y: float = 0.0) -> float:
    """The top eigenvalue of the Hessian of (f - y)^2 / 2 with respect to (u, v), in float64,
    from the dense matrix."""
    n = len(u)
    f = float(v @ u) * x / np.sqrt(n)
    jacobian = np.concatenate([v, u]) * x / np.sqrt(n)
    coupling = np.zeros((2 * n, 2 * n))
    coupling[:n, n:] = coupling[n:, :n] = np.eye(n) * x / np.sqrt(n)
    hessian = np.outer(jacobian, jacobian) + (f - y) * coupling
    return float(np.linalg.eigvalsh(hessian)[-1])


def uv_loss_catapult_c(
    u: np.ndarray, v: np.ndarray, cs: Sequence[float], steps: int = 10, x: float = 1.0
) -> float:
    """The smallest c in ``cs`` (eta = c / lambda0, lambda0 the Hessian's top eigenvalue) at which
    the loss rises above L_0 within ``steps`` steps; nan if none does."""
    n = len(u)
    f0 = float(v @ u) * x / np.sqrt(n)
    ntk0 = float(u @ u + v @ v) / n
    lambda0 = uv_hessian_top(u, v, x)
    for c in sorted(cs):
        f, _ = uv_recursion(f0, ntk0, c / lambda0, n, steps, x)
        with np.errstate(over="ignore", invalid="ignore"):
            if np.any(~np.isfinite(f[1:])) or np.any(np.abs(f[1:]) > abs(f0)):
                return float(c)
    return float("nan")
