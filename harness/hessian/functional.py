"""The loss as a pure function of the parameters: what every HVP backend differentiates.

``WeightedLoss.batch_loss(params, b)`` runs ``model`` through ``torch.func.functional_call``
on batch b with the given parameter tensors and returns ``(n_b / N) * loss(outputs, targets)``.
Nothing of the model is modified:

- parameters are never touched (the caller passes its own leaf tensors), so no ``.grad``;
- buffers are passed as fresh clones on every forward pass, so BatchNorm's running statistics
  in train mode update the clones, never the model's buffers;
- the module's train/eval flag is set for the forward pass and restored right after;
- in train mode the random number generator is forked and seeded with ``seed + b`` for every
  forward pass, so dropout draws the same masks in every product: the operator stays one fixed
  symmetric matrix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch.func import functional_call

from phasebench.hessian.batches import Batch

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@contextlib.contextmanager
def _mode(model: torch.nn.Module, train: bool) -> Iterator[None]:
    flags = [(m, m.training) for m in model.modules()]
    model.train(train)
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag


class WeightedLoss:
    """``params -> sum_b (n_b/N) loss_b(params)``, batch by batch."""

    def __init__(
        self,
        model: torch.nn.Module,
        loss: LossFn,
        batches: Sequence[Batch],
        names: Sequence[str],
        buffers: dict[str, torch.Tensor],
        train: bool,
        seed: int,
    ) -> None:
        self.model = model
        self.loss = loss
        self.batches = list(batches)
        self.names = list(names)
        self.buffers = buffers
        self.train = train
        self.seed = seed

    def outputs(
        self, params: Sequence[torch.Tensor], index: int, rows: int | None = None
    ) -> torch.Tensor:
        """The model's outputs on batch ``index`` (its first ``rows`` examples when given), with
        these parameters, fresh buffer clones, the operator's mode and dropout masks."""
        inputs = self.batches[index].inputs
        if rows is not None:
            inputs = inputs[:rows]
        state = dict(zip(self.names, params, strict=True))
        state.update({name: b.clone() for name, b in self.buffers.items()})
        with _mode(self.model, self.train), self._rng(index):
            return functional_call(self.model, state, (inputs,))

    def batch_loss(self, params: Sequence[torch.Tensor], index: int) -> torch.Tensor:
        batch = self.batches[index]
        return batch.weight * self.loss(self.outputs(params, index), batch.targets)

    def _rng(self, index: int) -> contextlib.AbstractContextManager:
        if not self.train:
            return contextlib.nullcontext()
        devices = [self.batches[index].inputs.device]
        cuda = [d.index or 0 for d in devices if d.type == "cuda"]
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=cuda))
        torch.manual_seed(self.seed + index)
        return stack

    def total(self, params: Sequence[torch.Tensor]) -> torch.Tensor:
        return sum(self.batch_loss(params, b) for b in range(len(self.batches)))
