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
    return PASSED
