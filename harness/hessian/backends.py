"""Hessian-vector product backends.

Each backend is built for one ``WeightedLoss`` and parameter tuple, then computes
``matvec(vs) -> Hv`` and ``gradient()``, tuples shaped like the parameters:

- ``graph``: double backward reusing one ``create_graph=True`` gradient graph per batch, built
  once; each product is a single backward pass through it (fastest on CPU, holds the graph).
  The gradient it was built from is kept, so ``gradient()`` costs nothing.
- ``rev-rev``: reverse-over-reverse with ``torch.func.vjp(torch.func.grad(f))``, recomputed
  per product (stateless: lowest memory between products).
- ``fwd-rev``: forward-over-reverse, ``torch.func.jvp(torch.func.grad(f))`` per product (fails
  on some losses in torch 2.13, e.g. ``F.mse_loss`` with mean reduction, and on BatchNorm in
  train mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from phasebench.hessian.functional import WeightedLoss

Tensors = tuple[torch.Tensor, ...]


def _add(total: list[torch.Tensor] | None, parts: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    if total is None:
        return list(parts)
    for i, part in enumerate(parts):
        total[i] = total[i] + part
    return total


def _accumulate(
    total: list[torch.Tensor | None], parts: Sequence[torch.Tensor | None]
) -> list[torch.Tensor | None]:
    """Add ``parts`` into ``total`` where present (the first part is kept as is: no zero fill)."""
    for i, part in enumerate(parts):
        if part is not None:
            total[i] = part if total[i] is None else total[i] + part
    return total


def _zeros_for_none(parts: Sequence[torch.Tensor | None], like: Tensors) -> Tensors:
    """Zeros where a parameter got no contribution (it does not affect the loss)."""
    return tuple(torch.zeros_like(x) if p is None else p for p, x in zip(parts, like, strict=True))


class GraphBackend:
    """Double backward through gradient graphs built once with ``create_graph=True``."""

    name = "graph"

    def __init__(self, fn: WeightedLoss, params: Tensors) -> None:
        self.params = tuple(p.detach().requires_grad_(True) for p in params)
        self.grads: list[tuple[list[int], Tensors]] = []
        gradient: list[torch.Tensor | None] = [None] * len(params)
        with torch.enable_grad():
            for b in range(len(fn.batches)):
                loss = fn.batch_loss(self.params, b)
                grads = torch.autograd.grad(loss, self.params, create_graph=True, allow_unused=True)
                live = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
                self.grads.append((live, tuple(grads[i] for i in live)))
                gradient = _accumulate(gradient, [None if g is None else g.detach() for g in grads])
        self._gradient = _zeros_for_none(gradient, self.params)

    def gradient(self) -> Tensors:
        """The gradient the graph was built from (free: no further pass)."""
        return self._gradient

    def matvec(self, vs: Tensors) -> Tensors:
        total: list[torch.Tensor | None] = [None] * len(vs)
        for live, grads in self.grads:
            if not live:
                continue
            parts = torch.autograd.grad(
                grads,
                self.params,
                grad_outputs=[vs[i] for i in live],
                retain_graph=True,
                allow_unused=True,
            )
            total = _accumulate(total, parts)
        return _zeros_for_none(total, vs)


class _FuncBackend:
    def __init__(self, fn: WeightedLoss, params: Tensors) -> None:
        self.fn = fn
        self.params = tuple(p.detach() for p in params)

    def _grad(self, b: int):
        return torch.func.grad(
            lambda *ps: self.fn.batch_loss(ps, b), argnums=tuple(range(len(self.params)))
        )

    def gradient(self) -> Tensors:
        """The gradient of the weighted mean loss (one gradient pass per batch, not cached)."""
        total = None
        for b in range(len(self.fn.batches)):
            total = _add(total, self._grad(b)(*self.params))
        return tuple(total)


class RevRevBackend(_FuncBackend):
    """Reverse-over-reverse: ``vjp(grad(f))`` recomputed for every product."""

    name = "rev-rev"

    def matvec(self, vs: Tensors) -> Tensors:
        total = None
        for b in range(len(self.fn.batches)):
            _, vjp_fn = torch.func.vjp(self._grad(b), *self.params)
            total = _add(total, vjp_fn(tuple(vs)))
        return tuple(total)


class FwdRevBackend(_FuncBackend):
    """Forward-over-reverse: ``jvp(grad(f))`` for every product."""

    name = "fwd-rev"

    def matvec(self, vs: Tensors) -> Tensors:
        total = None
        for b in range(len(self.fn.batches)):
            _, hv = torch.func.jvp(self._grad(b), self.params, tuple(vs))
            total = _add(total, hv)
        return tuple(total)


BACKENDS: dict[str, type] = {
    GraphBackend.name: GraphBackend,
    RevRevBackend.name: RevRevBackend,
    FwdRevBackend.name: FwdRevBackend,
}
