"""What every check shares: :class:`ConformanceError`, the example model shapes and the
constants, and the small helpers (a failed promise, a kept global RNG, an error's first line)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: The example shapes a model is built for, in order; at least one must work.
MODEL_INPUT_SHAPES: tuple[tuple[int, ...], ...] = ((1, 28, 28), (3, 32, 32), (8,))
NUM_OUTPUTS = 3
PASSED = "passed"


class ConformanceError(AssertionError):
    """A component breaks its contract; the message names the component and the promise."""


def _require(condition: bool, label: str, message: str) -> None:
    if not condition:
        raise ConformanceError(f"{label}: {message}")


@contextlib.contextmanager
def _global_rng_kept() -> Iterator[None]:
    """Whatever the check draws from torch's global RNG, the caller's stream is restored."""
    import torch

    with torch.random.fork_rng(devices=[]):
        yield


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
