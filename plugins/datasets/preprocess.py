"""The paper's preprocessing: each image standardized by its own mean and std.

Mean and (population) standard deviation are taken over all pixels and channels of one image.
A constant image (std 0) becomes all zeros rather than NaN. Labels stay int64 class indices:
the loss encodes them (one-hot for MSE), not the dataset.
"""

from __future__ import annotations

import numpy as np

from phasebench.data import Split
from phasebench.errors import UsageError

#: The dtypes a dataset's ``dtype`` option accepts.
DTYPES = ("float32", "float64")
SPLITS = ("train", "test")


def check_split(split: str, dataset: str) -> str:
    if split not in SPLITS:
        raise UsageError(f"dataset {dataset!r} has no split {split!r}; the splits are train, test")
    return split


def check_dtype(dtype: str, dataset: str) -> np.dtype:
    if dtype not in DTYPES:
        raise UsageError(
            f"dataset {dataset!r}: dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}"
        )
    return np.dtype(dtype)


def standardize_per_image(images: np.ndarray, dtype: str | np.dtype = "float32") -> np.ndarray:
    """(N, ...) images of any numeric dtype -> float array, each image mean 0 and std 1.

    Statistics are accumulated in float64; the result has ``dtype``.
    """
    n = len(images)
    out = np.empty((n, int(np.prod(images.shape[1:], dtype=np.int64))), dtype=dtype)
    np.copyto(out, images.reshape(n, -1), casting="unsafe")  # faster than astype here
    out -= out.mean(axis=1, keepdims=True, dtype=np.float64).astype(out.dtype)
    variance = np.einsum("ij,ij->i", out, out, dtype=np.float64) / max(out.shape[1], 1)
    scale = np.zeros_like(variance)
    np.divide(1.0, np.sqrt(variance), out=scale, where=variance > 0)
    out *= scale.astype(out.dtype)[:, None]
    return out.reshape(images.shape)


def image_split(
    images: np.ndarray, labels: np.ndarray, num_classes: int, name: str, dtype: str
) -> Split:
    """A ``Split`` of standardized images (N, C, H, W) and int64 labels."""
    import torch

    inputs = torch.from_numpy(standardize_per_image(images, dtype))
    return Split(inputs, torch.from_numpy(labels.astype(np.int64)), num_classes, name)
