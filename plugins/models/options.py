"""Validation of a model's inputs (its options arrive checked by the registry, against their
declarations in ``phasebench_builtins.models``): every failure is a one-line UsageError."""

from __future__ import annotations

import operator
from collections.abc import Sequence

from phasebench.errors import UsageError


def _as_int(value: object) -> int | None:
    """``value`` as an int if it is an integer (Python, numpy or 0-d torch), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def positive_int(model: str, name: str, value: object) -> int:
    """``value`` as an int >= 1, or a UsageError naming the option."""
    number = _as_int(value)
    if number is None or number < 1:
        raise UsageError(f"model {model!r}: {name} must be a positive integer, got {value!r}")
    return number


def example_shape(model: str, input_shape: Sequence[int]) -> tuple[int, ...]:
    """Check one example's shape; returns it as a tuple of ints."""
    sides = [_as_int(side) for side in input_shape]
    if not sides or any(side is None or side < 1 for side in sides):
        shape = tuple(input_shape)
        raise UsageError(f"model {model!r}: input shape must be positive integers, got {shape}")
    return tuple(sides)  # type: ignore[arg-type]


def image_shape(model: str, input_shape: Sequence[int], min_side: int) -> tuple[int, int, int]:
    """An image shape (C, H, W) with H, W >= ``min_side``, or a UsageError saying why not."""
    shape = example_shape(model, input_shape)
    if len(shape) != 3:
        raise UsageError(
            f"model {model!r} needs image inputs (channels, height, width), got shape {shape}; "
            "use fcn or uv for flat vectors"
        )
    if min(shape[1:]) < min_side:
        raise UsageError(
            f"model {model!r} needs images of at least {min_side}x{min_side}, got "
            f"{shape[1]}x{shape[2]}; use fcn or uv for smaller inputs"
        )
    return shape  # type: ignore[return-value]
