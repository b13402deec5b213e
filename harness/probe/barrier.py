"""The loss along the segment theta_0 -> theta_T (the barrier), at the points ``tau``.

The plain way loads theta(tau) = lerp(theta_0, theta_T, tau) into the model and evaluates the
loss batch at every tau. With the shortcuts on (``phasebench.probe.shortcuts``):

- tau = 0 and tau = 1 are L_0 and L_T, which the probe has measured already (``torch.lerp``
  gives theta_0 and theta_T exactly there);
- when the model's first layer is linear in its parameters (``phasebench.probe.first_layer``),
  its outputs at theta_0 and theta_T are computed once and interpolated at every tau, which
  is exact up to float rounding; the rest of the model runs on the interpolated output. One
  point near tau = 1/2 is computed both ways first, and if they differ by more than
  ``GUARD`` (relative) the layer is not what it was declared to be and the plain way is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from phasebench.probe import shortcuts
from phasebench.probe.first_layer import linear_first, output_bytes
from phasebench.probe.problem import CHUNK, Problem

#: The largest relative difference, at tau ~ 1/2, accepted between the interpolated first
#: layer and the plain forward pass (float32 rounding is about 1e-7).
GUARD = 1e-4
#: The interpolated layer's two outputs are kept in memory only up to this size.
MAX_BYTES = 512 * 1024**2


class _Captured(Exception):
    """Raised by the pre-hook once it has the first layer's input: the rest is not needed."""


def barrier_losses(
    problem: Problem,
    model: torch.nn.Module,
    theta0: torch.Tensor,
    theta_t: torch.Tensor,
    tau: np.ndarray,
    loss0: float,
    loss_t: float,
    load: Callable[[torch.nn.Module, torch.Tensor], None],
) -> np.ndarray:
    """The loss batch's loss at each tau (``load`` copies a flat vector into the model);
    ``loss0`` and ``loss_t`` are the losses at theta_0 and theta_T."""
    barrier = np.full(len(tau), np.nan)
    todo = list(range(len(tau)))
    if not shortcuts.enabled():
        with torch.no_grad():
            for i in todo:
                load(model, torch.lerp(theta0, theta_t, float(tau[i])))
                barrier[i] = problem.eval_loss(model)
        return barrier
    for i, s in enumerate(tau):
        known = loss0 if s == 0.0 else loss_t if s == 1.0 else None
        if known is not None and math.isfinite(known):
            barrier[i] = known
            todo.remove(i)
    was_training = model.training
    try:
        interpolate = _Interpolation.prepare(problem, model, theta0, theta_t, load)
        model.eval()  # once, not per point (eval_loss restores the flag it finds)
        with torch.no_grad():
            segment = _Segment(model, theta0, theta_t)
            if interpolate is not None and todo:
                middle = min(todo, key=lambda i: abs(tau[i] - 0.5))
                segment.load(float(tau[middle]))
                barrier[middle] = problem.eval_loss(model)
                todo.remove(middle)
                fast = interpolate.loss(model, float(tau[middle]))
                if not abs(fast - barrier[middle]) <= GUARD * max(abs(barrier[middle]), 1e-30):
                    interpolate = None  # not linear after all: the plain way
            for i in todo:
                s = float(tau[i])
                segment.load(s)
                barrier[i] = (
                    problem.eval_loss(model) if interpolate is None else interpolate.loss(model, s)
                )
    finally:
        model.train(was_training)
    return barrier


class _Segment:
    """Loads theta(s) = lerp(theta_0, theta_T, s) straight into the parameters (the same
    values as ``load(model, torch.lerp(theta_0, theta_T, s))``, without the flat copy)."""

    def __init__(self, model: torch.nn.Module, theta0: torch.Tensor, theta_t: torch.Tensor):
        self.parts = []
        position = 0
        for p in model.parameters():
            n = p.numel()
            a = theta0[position : position + n].view_as(p)
            b = theta_t[position : position + n].view_as(p)
            self.parts.append((p, a, b))
            position += n

    def load(self, s: float) -> None:
        for p, a, b in self.parts:
            torch.lerp(a, b, s, out=p.data)


class _Interpolation:
    """The first layer's outputs on the loss batch at theta_0 and theta_T, chunk by chunk as
    ``Problem.eval_loss`` runs them, and the loss with the layer's output interpolated."""

    def __init__(
        self, problem: Problem, layer: torch.nn.Module, ends: list[tuple[torch.Tensor, ...]]
    ):
        self.problem = problem
        self.layer = layer
        self.ends = ends  # per chunk: (output at theta_0, output at theta_T)

    @classmethod
    def prepare(cls, problem, model, theta0, theta_t, load) -> _Interpolation | None:
        layer = linear_first(model)
        if layer is None:
            return None
        inputs = problem.loss_inputs
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                chunks = [
                    _layer_input(model, layer, inputs[s : s + CHUNK]) for s in _starts(problem)
                ]
                if any(c is None for c in chunks):
                    return None
                if 2 * sum(output_bytes(c, layer) for c in chunks) > MAX_BYTES:
                    return None
                load(model, theta0)
                start = [layer(c) for c in chunks]
                load(model, theta_t)
                end = [layer(c) for c in chunks]
        finally:
            model.train(was_training)
        return cls(problem, layer, list(zip(start, end, strict=True)))

    def loss(self, model: torch.nn.Module, s: float) -> float:
        """The loss batch's loss with the model's parameters as loaded (theta(s)) and the first
        layer's output lerp(out_0, out_T, s): ``Problem.eval_loss``'s arithmetic otherwise
        (the caller has put the model in eval mode)."""
        problem = self.problem
        total, n = 0.0, len(problem.loss_targets)
        for index, start in enumerate(_starts(problem)):
            out0, out1 = self.ends[index]
            self.layer.forward = lambda *_, a=out0, b=out1: torch.lerp(a, b, s)
            try:
                inputs = problem.loss_inputs[start : start + CHUNK]
                value = problem.loss(model(inputs), problem.loss_targets[start : start + CHUNK])
            finally:
                del self.layer.forward
            total += float(value) * len(inputs)
        return total / n


def _starts(problem: Problem) -> range:
    return range(0, len(problem.loss_targets), CHUNK)


def _layer_input(model, layer, inputs) -> torch.Tensor | None:
    """What ``layer`` receives when the model runs on ``inputs`` (the forward stops there);
    None if the model does not call it."""
    seen: list[torch.Tensor] = []

    def capture(_module, args):
        seen.append(args[0])
        raise _Captured

    handle = layer.register_forward_pre_hook(capture)
    try:
        model(inputs)
    except _Captured:
        pass
    finally:
        handle.remove()
    return seen[0] if len(seen) == 1 else None
