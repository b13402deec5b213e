"""``GaussNewtonOperator``: v -> G v, G = J^T H_out J, without second derivatives of the model.

J is the Jacobian of the model's outputs on the operator's batches with respect to the
flattened trainable parameters, H_out a positive semi-definite curvature in output space:

- ``curvature="loss"`` (the GGN): H_out = the loss's own Hessian in the outputs, exactly, by
  ``torch.func`` on ``(n_b / N) * loss(outputs, targets)`` per batch (0.5 * mean MSE gives
  I / (N k); softmax cross-entropy (diag(p) - p p^T) / N per example). G is the Hessian with
  the residual term sum_i r_i grad^2 f_i dropped: H == G for a model linear in its parameters.
- ``curvature="ntk"``: H_out = I / N, so the operator is J^T J / N, whose nonzero eigenvalues
  are exactly those of the empirical NTK Theta = J J^T / N (the (N k) x (N k) kernel of the
  outputs, averaged over the N examples: the catapult paper's lambda_NTK, whose GD threshold
  for L = (1 / 2N) sum_i |f_i - y_i|^2 is 2 / lambda_NTK). The relation to the GGN is exact
  when H_out is a multiple of I: for the built-in ``mse`` (0.5 * mean over the N examples AND
  the k outputs), lambda_max(G) = lambda_max(Theta) / k. For cross-entropy there is no scalar
  relation, only lambda_max(G) <= lambda_max(Theta) * max ||H_out,i||.

One product per batch is two backward passes through graphs built once with the operator
(first derivatives of the model only): J v as the derivative in u of the VJP graph u -> J^T u
(built with ``create_graph`` at u = 0; it is linear in u), the output curvature, then J^T
through the forward graph. On the benchmark MLP that is ~1.2 gradients, where
``torch.func.jvp`` alone costs ~1.25 (it recomputes the forward pass). The graphs are held
between products, as by the Hessian's ``graph`` backend. The model, data, dtype, mode and
batch weights are handled exactly as by ``HessianOperator`` (which this operator uses to set
itself up, never for a product).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from phasebench.errors import UsageError
from phasebench.hessian.functional import LossFn
from phasebench.hessian.matrix_free import ProductOperator
from phasebench.hessian.operator import HessianOperator, _first_line

CURVATURES = ("loss", "ntk")


class _Scale:
    """u -> (s u,): the NTK's output curvature I / N."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __call__(self, u: torch.Tensor) -> tuple[torch.Tensor]:
        return (u * self.scale,)


@dataclass
class _Batch:
    params: tuple[torch.Tensor, ...]  # leaves the graphs were built on
    values: torch.Tensor  # f(theta) on the batch, with its forward graph
    dual: torch.Tensor  # u, the zero cotangent the VJP graph was built at
    pulled: tuple[torch.Tensor, ...]  # J^T u for the parameters it depends on
    live: list[int]  # their indices
    out_hessian: Callable[[torch.Tensor], tuple[torch.Tensor]]
    out_grad: torch.Tensor  # d (weighted loss) / d outputs


class GaussNewtonOperator(ProductOperator):
    """G = J^T H_out J over the flattened trainable parameters (see the module's docstring)."""

    def __init__(
        self,
        model: torch.nn.Module,
        loss: LossFn,
        inputs: torch.Tensor | Sequence[torch.Tensor],
        targets: torch.Tensor | Sequence[torch.Tensor],
        *,
        dtype: str | torch.dtype | None = None,
        mode: str = "eval",
        seed: int = 0,
        curvature: str = "loss",
    ) -> None:
        if curvature not in CURVATURES:
            raise UsageError(f"unknown curvature {curvature!r}; use {' or '.join(CURVATURES)}")
        setup = HessianOperator(model, loss, inputs, targets, dtype=dtype, mode=mode, seed=seed)
        self.curvature = curvature
        self.fn, self.params = setup.fn, setup.params
        self.names, self.shapes, self.numels = setup.names, setup.shapes, setup.numels
        self.size, self.dtype, self.device = setup.size, setup.dtype, setup.device
        self.examples, self.mode = setup.examples, mode
        self.backend = "vjp-graph"
        self.hvps = 0
        try:
            self._batches = [self._build(b) for b in range(len(self.fn.batches))]
        except UsageError:
            raise
        except Exception as exc:  # torch.func lacks a rule for some op of the model or loss
            raise UsageError(
                f"the Gauss-Newton operator cannot differentiate this model and loss in mode "
                f"{mode!r} ({type(exc).__name__}: {_first_line(exc, named=False)}); use the "
                "Hessian, or mode='eval'"
            ) from exc

    def _build(self, b: int) -> _Batch:
        """Batch b's graphs, built once: the outputs f(theta) and the graph of the VJP
        u -> J^T u (``create_graph`` at u = 0, linear in u), the output curvature product and
        the gradient of the weighted loss in the outputs (for ``gradient()``)."""
        batch = self.fn.batches[b]
        with torch.enable_grad():
            params = tuple(p.detach().requires_grad_(True) for p in self.params)
            values = self.fn.outputs(params, b)
            dual = torch.zeros_like(values, requires_grad=True)
            pulled = torch.autograd.grad(
                values, params, grad_outputs=dual, create_graph=True, allow_unused=True
            )
        live = [i for i, g in enumerate(pulled) if g is not None and g.requires_grad]

        def weighted(out: torch.Tensor) -> torch.Tensor:
            return batch.weight * self.fn.loss(out, batch.targets)

        out_grad, out_hessian = torch.func.vjp(torch.func.grad(weighted), values.detach())
        if self.curvature == "ntk":
            out_hessian = _Scale(1.0 / self.examples)
        return _Batch(
            params,
            values,
            dual,
            tuple(pulled[i] for i in live),
            live,
            out_hessian,
            out_grad.detach(),
        )

    def _split(self, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(
            part.view(shape) for part, shape in zip(v.split(self.numels), self.shapes, strict=True)
        )

    def _flat(self, parts: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([p.reshape(-1) for p in parts])

    def _pullback(self, batch: _Batch, w: torch.Tensor) -> torch.Tensor:
        """J^T w, flat: one backward pass through the batch's forward graph."""
        parts = torch.autograd.grad(
            batch.values, batch.params, grad_outputs=w, retain_graph=True, allow_unused=True
        )
        return self._flat(
            [
                torch.zeros_like(p) if g is None else g
                for g, p in zip(parts, batch.params, strict=True)
            ]
        )

    def _product(self, v: torch.Tensor) -> torch.Tensor:
        vs = self._split(v)
        total = torch.zeros(self.size, dtype=self.dtype, device=self.device)
        for batch in self._batches:
            if not batch.live:
                continue
            # J v: the VJP's graph is linear in u, so its derivative in u along v is J v
            (jv,) = torch.autograd.grad(
                batch.pulled,
                batch.dual,
                grad_outputs=[vs[i] for i in batch.live],
                retain_graph=True,
            )
            (hjv,) = batch.out_hessian(jv)
            total += self._pullback(batch, hjv)
        return total

    def gradient(self) -> torch.Tensor:
        """The flat gradient of the mean loss, J^T dL/df (not counted as a product)."""
        total = torch.zeros(self.size, dtype=self.dtype, device=self.device)
        for batch in self._batches:
            total += self._pullback(batch, batch.out_grad)
        return total

    def loss(self) -> float:
        """The mean loss over all batches at these parameters."""
        with torch.no_grad():
            return float(self.fn.total(self.params))
