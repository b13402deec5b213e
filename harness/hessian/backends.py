"""Hessian-vector product backends.

Each backend is built for one ``WeightedLoss`` and parameter tuple, then computes
``matvec(vs) -> Hv`` and ``gradient()``, tuples shaped like the parameters:

- ``graph``: double backward reusing one ``create_graph=True`` gradient graph per batch, built
  once; each product is a single backward pass through it (fastest on CPU, holds the graph).
  The gradient and the loss it was built from are kept, so ``gradient()`` and ``loss()`` cost
  nothing.
- ``rev-rev``: reverse-over-reverse with ``torch.func.vjp(torch.func.grad(f))``, recomputed
  per product (stateless: lowest memory between products).
- ``fwd-rev``: forward-over-reverse, ``torch.func.jvp(torch.func.grad(f))`` per product (fails
  on some losses in torch 2.13, e.g. ``F.mse_loss`` with mean reduction, and on BatchNorm in
  train mode).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from phasebench.hessian.functional import WeightedLoss

Tensors = tuple[torch.Tensor, ...]


def _sum(per_batch: Iterable[Sequence[torch.Tensor | None]], like: Tensors) -> Tensors:
    """The sum over batches of parameter-shaped tuples; zeros where no batch contributed (a
    parameter the loss does not depend on). The first contribution is kept as is: no zero fill."""
    total: list[torch.Tensor | None] = [None] * len(like)
    for parts in per_batch:
        for i, part in enumerate(parts):
            if part is not None:
                total[i] = part if total[i] is None else total[i] + part
    return tuple(torch.zeros_like(x) if t is None else t for t, x in zip(total, like, strict=True))


class GraphBackend:
    """Double backward through gradient graphs built once with ``create_graph=True``."""

    name = "graph"

    def __init__(self, fn: WeightedLoss, params: Tensors) -> None:
        self.params = tuple(p.detach().requires_grad_(True) for p in params)
        self.grads: list[tuple[list[int], Tensors]] = []
        gradients = []
        self._losses: list[torch.Tensor] = []
        with torch.enable_grad():
            for b in range(len(fn.batches)):
                loss = fn.batch_loss(self.params, b)
                self._losses.append(loss.detach())
                grads = torch.autograd.grad(loss, self.params, create_graph=True, allow_unused=True)
                live = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
                self.grads.append((live, tuple(grads[i] for i in live)))
                gradients.append([None if g is None else g.detach() for g in grads])
        self._gradient = _sum(gradients, self.params)

    def gradient(self) -> Tensors:
        """The gradient the graph was built from (free: no further pass)."""
        return self._gradient

    def loss(self) -> float:
        """The weighted mean loss the graph was built from (free: no further pass)."""
        return sum(float(value) for value in self._losses)

    def matvec(self, vs: Tensors) -> Tensors:
        return _sum(
            (
                torch.autograd.grad(
                    grads,
                    self.params,
                    grad_outputs=[vs[i] for i in live],
                    retain_graph=True,
                    allow_unused=True,
                )
                for live, grads in self.grads
                if live
            ),
            vs,
        )


class _FuncBackend:
    def __init__(self, fn: WeightedLoss, params: Tensors) -> None:
        self.fn = fn
        self.params = tuple(p.detach() for p in params)

    def _grad(self, b: int):
        return torch.func.grad(
            lambda *ps: self.fn.batch_loss(ps, b), argnums=tuple(range(len(self.params)))
        )

    def _batches(self) -> range:
        return range(len(self.fn.batches))

    def gradient(self) -> Tensors:
        """The gradient of the weighted mean loss (one gradient pass per batch, not cached)."""
        return _sum((self._grad(b)(*self.params) for b in self._batches()), self.params)


class RevRevBackend(_FuncBackend):
    """Reverse-over-reverse: ``vjp(grad(f))`` recomputed for every product."""

    name = "rev-rev"

    def matvec(self, vs: Tensors) -> Tensors:
        return _sum(
            (torch.func.vjp(self._grad(b), *self.params)[1](tuple(vs)) for b in self._batches()),
            vs,
        )


class FwdRevBackend(_FuncBackend):
    """Forward-over-reverse: ``jvp(grad(f))`` for every product."""

    name = "fwd-rev"

    def matvec(self, vs: Tensors) -> Tensors:
        return _sum(
            (torch.func.jvp(self._grad(b), self.params, tuple(vs))[1] for b in self._batches()),
            vs,
        )


BACKENDS: dict[str, type] = {
    GraphBackend.name: GraphBackend,
    RevRevBackend.name: RevRevBackend,
    FwdRevBackend.name: FwdRevBackend,
}
