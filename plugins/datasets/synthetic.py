"""Synthetic datasets for tests and controlled problems; generated in memory, no files.

Both are pure functions of their options: the problem (cluster means, teacher weights) comes
from the random stream ``(seed, 0)``, the training inputs from ``(seed, 1)`` and the test inputs
from ``(seed, 2)``, so train and test share the problem but not the examples. Inputs are (N, dim)
vectors, not standardized per example (they are already of unit scale).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from phasebench_builtins.datasets.preprocess import check_dtype, check_split

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.data import Split

_STREAMS = {"train": 1, "test": 2}


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream]))


def _split(inputs: np.ndarray, labels: np.ndarray, classes: int, name: str, dtype: str) -> Split:
    import torch

    from phasebench.data import Split

    # class indices, or with one class the scalar regression targets themselves
    labels = labels.astype(np.int64) if classes > 1 else np.asarray(labels, dtype=dtype)
    return Split(
        torch.from_numpy(np.ascontiguousarray(inputs, dtype=dtype)),
        torch.from_numpy(labels),
        classes,
        name,
    )


def gaussian(
    split: str,
    data_dir: str | Path | None = None,
    *,
    n_train: int,
    n_test: int,
    dim: int,
    classes: int,
    separation: float,
    seed: int,
    dtype: str,
) -> Split:
    """Gaussian clusters: class c has mean mu_c ~ N(0, separation^2 / dim * I), x = mu_c + N(0, I).

    So two class means are about ``separation * sqrt(2)`` apart whatever ``dim``. Classes are
    balanced (example i has class i mod classes, then shuffled).
    """
    check_split(split, "gaussian")
    check_dtype(dtype, "gaussian")
    n = n_train if split == "train" else n_test
    means = _rng(seed, 0).normal(scale=float(separation) / np.sqrt(dim), size=(classes, dim))
    rng = _rng(seed, _STREAMS[split])
    labels = rng.permutation(np.arange(n) % classes)
    inputs = means[labels] + rng.normal(size=(n, dim))
    return _split(inputs, labels, classes, f"gaussian/{split}", dtype)


def teacher(
    split: str,
    data_dir: str | Path | None = None,
    *,
    n_train: int,
    n_test: int,
    dim: int,
    classes: int,
    width: int,
    seed: int,
    dtype: str,
) -> Split:
    """Labels of a random teacher: x ~ N(0, I), y = argmax(W2 relu(W1 x)).

    W1 (width x dim) ~ N(0, 2/dim), W2 (classes x width) ~ N(0, 1/width): a one-hidden-layer
    ReLU network at He initialization. Classes need not be balanced.
    """
    check_split(split, "teacher")
    check_dtype(dtype, "teacher")
    n = n_train if split == "train" else n_test
    problem = _rng(seed, 0)
    w1 = problem.normal(scale=np.sqrt(2.0 / dim), size=(width, dim))
    w2 = problem.normal(scale=np.sqrt(1.0 / width), size=(classes, width))
    inputs = _rng(seed, _STREAMS[split]).normal(size=(n, dim))
    labels = np.argmax(np.maximum(inputs @ w1.T, 0.0) @ w2.T, axis=1)
    return _split(inputs, labels, classes, f"teacher/{split}", dtype)


def single_example(
    split: str,
    data_dir: str | Path | None = None,
    *,
    x: float,
    y: float,
    dtype: str,
) -> Split:
    """The catapult theory's problem: one example, input ``x`` (shape (1,)), target ``y``.

    ``num_classes`` is 1: the ``mse`` loss then uses the label itself as a scalar target, so
    with the ``uv`` model the loss is (f - y)^2 / 2 with f = v^T u x / sqrt(n). ``y = 0`` is the
    catapult paper's problem; a nonzero target gives the later regimes (progressive sharpening
    and the edge of stability, Kalra, He & Barkeshli 2023).
    """
    check_split(split, "single-example")
    check_dtype(dtype, "single-example")
    return _split(np.array([[x]]), np.array([y]), 1, "single-example", dtype)
