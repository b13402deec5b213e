"""How long an estimator will take on an operator, from a few of its products, before it runs.

``product_seconds(operator)`` times Hessian-vector products on this machine (the backend is
chosen first, outside the timing); ``eigh_seconds(n)`` times a dense float64 eigendecomposition
of a small matrix and scales it as n^3; ``estimator_seconds`` combines them: an exact estimator
takes n products and one eigh, any other about its budget of products (``Traits.budget``'s
value: an upper bound for one eigenvalue). ``bench`` and ``sharpness`` refuse what is over the
limit a user set (``--max-minutes``) with the figure in the message, and show it as they go.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from phasebench.hessian.api import estimator_traits
from phasebench.plugins import Components

#: The side of the matrix eigh is timed on (its n^3 cost is scaled from there).
EIGH_PROBE = 192


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def product_seconds(operator: Any, products: int = 2) -> float:
    """Seconds of one product on ``operator`` (the fastest of ``products``; the first product,
    which builds the backend, is not timed). The products are counted on the operator."""
    device = getattr(operator, "device", torch.device("cpu"))
    vector = torch.ones(operator.size, dtype=getattr(operator, "dtype", torch.float32))
    vector = vector.to(device) / operator.size**0.5
    getattr(operator, "backend", None)  # choose (calibrate) the backend first
    best = float("inf")
    for _ in range(max(1, products)):
        tick = _now(device)
        operator.matvec(vector)
        best = min(best, _now(device) - tick)
    return best


def eigh_seconds(n: int, device: torch.device | None = None) -> float:
    """Seconds of ``torch.linalg.eigh`` of an n x n float64 matrix here (timed at a small size,
    scaled as n^3)."""
    device = device or torch.device("cpu")
    m = min(n, EIGH_PROBE)
    a = torch.randn(m, m, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = (a + a.T).to(device)
    tick = _now(device)
    torch.linalg.eigh(a)
    return (_now(device) - tick) * (n / m) ** 3


def estimator_seconds(
    name: str,
    size: int,
    k: int,
    per_product: float,
    components: Components | None = None,
    options: dict[str, Any] | None = None,
    device: torch.device | None = None,
) -> tuple[float, int]:
    """(seconds, products) the estimator ``name`` takes at most on an operator of ``size``
    parameters whose products take ``per_product`` seconds."""
    traits = estimator_traits(name, components)
    if traits.exact:
        return size * per_product + eigh_seconds(size, device), size
    if traits.budget is None:
        return float("nan"), 0
    registration = (components or _default_components()).get("estimator", name)
    budget = int({**registration.defaults, **(options or {})}.get(traits.budget, 0))
    products = min(budget, size) if traits.budget else 0
    return products * per_product, products


def _default_components() -> Components:
    from phasebench import plugins

    return plugins.components()
