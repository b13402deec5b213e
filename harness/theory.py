"""Closed forms the probe is checked against: the uv model of the catapult theory.

f(x) = v^T u x / sqrt(n) on one example (x, y = 0) with loss f^2 / 2. Gradient descent at
learning rate eta follows, exactly (Lewkowycz et al. 2020; ``shared/paper.md``):

    f_{t+1}      = (1 - eta lambda_t + eta^2 f_t^2 / n) f_t
    lambda_{t+1} = lambda_t + (eta f_t^2 / n)(eta lambda_t - 4)

with lambda = (|u|^2 + |v|^2) / n the NTK eigenvalue. The Hessian is J J^T + f / sqrt(n) K,
K = [[0, I], [I, 0]], whose top eigenvalue the probe's lambda0 is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def uv_recursion(
    f0: float, ntk0: float, eta: float, n: int, steps: int, x: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """f_t and lambda_t for t = 0..steps (lambda_t is the NTK eigenvalue)."""
    f = np.empty(steps + 1)
    lam = np.empty(steps + 1)
    f[0], lam[0] = f0, ntk0 * x * x
    for t in range(steps):
        f[t + 1] = (1 - eta * lam[t] + eta**2 * f[t] ** 2 / n) * f[t]
        lam[t + 1] = lam[t] + (eta * f[t] ** 2 / n) * (eta * lam[t] - 4)
    return f, lam


def uv_hessian_top(u: np.ndarray, v: np.ndarray, x: float = 1.0) -> float:
    """The top eigenvalue of the Hessian of f^2 / 2 with respect to (u, v), in float64."""
    n = len(u)
    f = float(v @ u) * x / np.sqrt(n)
    jacobian = np.concatenate([v, u]) * x / np.sqrt(n)
    coupling = np.zeros((2 * n, 2 * n))
    coupling[:n, n:] = coupling[n:, :n] = np.eye(n) * x / np.sqrt(n)
    hessian = np.outer(jacobian, jacobian) + f * coupling
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
