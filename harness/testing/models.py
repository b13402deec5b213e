"""The model check: a registered model builds for an example shape, maps a batch to finite
outputs of the right shape, and passes gradients back to its parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from phasebench.errors import UsageError
from phasebench.testing.common import (
    MODEL_INPUT_SHAPES,
    NUM_OUTPUTS,
    PASSED,
    ConformanceError,
    _first_line,
    _global_rng_kept,
    _require,
)

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


def _build_model(
    build: Callable[..., Any], options: Mapping[str, Any], label: str
) -> tuple[nn.Module, tuple[int, ...]]:
    """The model for the first of MODEL_INPUT_SHAPES it accepts (UsageError: try the next)."""
    refused: list[str] = []
    for shape in MODEL_INPUT_SHAPES:
        try:
            model = build(shape, NUM_OUTPUTS, **options)
        except UsageError as exc:
            refused.append(f"{shape}: {_first_line(exc)}")
            continue
        except Exception as exc:
            raise ConformanceError(
                f"{label}: build({shape}, {NUM_OUTPUTS}) raised {_first_line(exc)}; a model "
                "raises phasebench.errors.UsageError for inputs or options it cannot take"
            ) from exc
        return model, shape
    raise ConformanceError(
        f"{label}: builds for none of the input shapes {list(MODEL_INPUT_SHAPES)} "
        f"({'; '.join(refused)})"
    )


def check_model(
    build: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "model"
) -> str:
    """``build(input_shape, num_outputs, **options)`` gives an ``nn.Module`` with trainable
    parameters mapping a batch (N, *input_shape) to finite outputs (N, num_outputs) that
    gradients flow through. Tried on MODEL_INPUT_SHAPES in order; a UsageError for a shape
    is acceptable, but at least one must build."""
    import torch
    from torch import nn

    options = dict(options or {})
    with _global_rng_kept():
        model, shape = _build_model(build, options, label)
        where = f"{label} on input shape {shape}"
        _require(
            isinstance(model, nn.Module),
            where,
            f"build returned {type(model).__name__}, not a torch.nn.Module",
        )
        params = [p for p in model.parameters() if p.requires_grad]
        _require(bool(params), where, "the model has no trainable parameters")
        gen = torch.Generator().manual_seed(0)
        inputs = torch.randn(2, *shape, generator=gen, dtype=params[0].dtype)
        outputs = model(inputs)
        _require(
            isinstance(outputs, torch.Tensor) and tuple(outputs.shape) == (2, NUM_OUTPUTS),
            where,
            f"a batch of 2 gave outputs of shape {tuple(getattr(outputs, 'shape', ()))}, "
            f"expected (2, {NUM_OUTPUTS}) = (batch, num_outputs)",
        )
        _require(bool(torch.isfinite(outputs).all()), where, "outputs are not finite")
        outputs.square().sum().backward()
        grads = [p.grad for p in params if p.grad is not None]
        _require(bool(grads), where, "no parameter receives a gradient from the outputs")
        _require(
            all(bool(torch.isfinite(g).all()) for g in grads), where, "gradients are not finite"
        )
        _require(
            any(bool(g.abs().sum() > 0) for g in grads), where, "every gradient is exactly zero"
        )
        _check_linear_first(model, inputs, where)
    return PASSED


def _check_linear_first(model: nn.Module, inputs: Any, where: str) -> None:
    """A declared ``phasebench_linear_first`` names a submodule that the forward pass calls
    once and whose output is linear in its parameters: at the midpoint of two parameter
    values it is the mean of the two outputs (on the input it receives here)."""
    import torch

    declared = getattr(model, "phasebench_linear_first", None)
    if declared is None or declared == "":
        return
    what = f"phasebench_linear_first = {declared!r}"
    _require(isinstance(declared, str), where, f"{what} is not a string (a submodule's name)")
    try:
        layer = model.get_submodule(declared)
    except AttributeError:
        raise ConformanceError(f"{where}: {what} names no submodule of the model") from None
    seen: list[Any] = []
    handle = layer.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        handle.remove()
    _require(len(seen) == 1, where, f"{what}: the forward pass calls it {len(seen)} times, not 1")
    params = [p for p in layer.parameters() if p.requires_grad]
    _require(bool(params), where, f"{what}: the layer has no trainable parameters")
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        start = [p.detach().clone() for p in params]
        step = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
        outputs = []
        for scale in (0.0, 1.0, 0.5):
            for p, a, d in zip(params, start, step, strict=True):
                p.copy_(a + scale * d)
            outputs.append(layer(seen[0]))
        for p, a in zip(params, start, strict=True):
            p.copy_(a)
    out0, out1, middle = outputs
    error = float((middle - (out0 + out1) / 2).abs().max())
    size = float(torch.maximum(out0.abs().max(), out1.abs().max()))
    _require(
        error <= 1e-4 * max(size, 1e-30),
        where,
        f"{what}: the layer's output is not linear in its parameters (at the midpoint of two "
        f'parameter values it is off the mean of the outputs by {error:.3g}); declare "" '
        "or remove the attribute",
    )
