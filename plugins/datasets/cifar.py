"""CIFAR-10 in its two published formats, read with numpy.

- Binary (``cifar-10-batches-bin/*.bin``): records of 1 label byte + 3072 pixel bytes
  (1024 red, 1024 green, 1024 blue, each 32x32 row-major).
- Python batches (``cifar-10-batches-py/data_batch_N``, ``test_batch``): pickled dicts with
  ``data`` (uint8 array, N x 3072, same pixel order) and ``labels`` (list of ints).

The pickles are read with :class:`RestrictedUnpickler`: it resolves only the three numpy names
needed to rebuild a plain array (``_reconstruct``, ``ndarray``, ``dtype``) and refuses every other
global, so a malicious file cannot call a function. The rebuilt array must be uint8.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from phasebench.errors import DataError
from phasebench_builtins.datasets.rawbytes import read_bytes

IMAGE_SHAPE = (3, 32, 32)
IMAGE_BYTES = 3 * 32 * 32
RECORD_BYTES = 1 + IMAGE_BYTES
NUM_CLASSES = 10

# The function numpy pickles arrays with (numpy.core.multiarray._reconstruct in numpy 1,
# numpy._core.multiarray._reconstruct in numpy 2), found without naming the private module.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1, np.uint8))[0]

#: (module, name) -> object: everything a CIFAR python batch may reference. Nothing else loads.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle asked for a global outside ``ALLOWED_GLOBALS`` (a function call, say)."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for plain data: dicts, lists, strings, numbers and uint8 numpy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(
                f"refused to load global {module}.{name}: a CIFAR batch holds only plain data"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedGlobal("refused a persistent id: a CIFAR batch holds only plain data")


def restricted_loads(data: bytes) -> Any:
    """Unpickle ``data`` allowing only plain types (latin1 strings, as torchvision reads CIFAR)."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def parse_python_batch(data: bytes, where: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 from a python-batch pickle's bytes."""
    try:
        batch = restricted_loads(data)
    except RefusedGlobal as exc:
        raise DataError(f"{where} is not a CIFAR python batch: {exc}") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
    ) as exc:
        raise DataError(
            f"{where} is a truncated or corrupt CIFAR python batch ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(batch, dict):
        raise DataError(f"{where} is not a CIFAR python batch (a {type(batch).__name__})")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    images, labels = batch.get("data"), batch.get("labels")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2:
        raise DataError(f"{where} is not a CIFAR python batch: 'data' is not a 2-D uint8 array")
    if images.shape[1] != IMAGE_BYTES:
        raise DataError(f"{where}: images have {images.shape[1]} values, expected {IMAGE_BYTES}")
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        raise DataError(f"{where} is not a CIFAR python batch: 'labels' is not a list of ints")
    if len(labels) != len(images):
        raise DataError(
            f"label count mismatch: {where} has {len(labels)} labels for {len(images)} images"
        )
    return images.reshape(-1, *IMAGE_SHAPE), _labels(np.asarray(labels, dtype=np.int64), where)


def parse_binary_batch(data: bytes, where: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 from a binary batch's bytes."""
    if not data or len(data) % RECORD_BYTES:
        raise DataError(
            f"{where} is truncated or corrupt: {len(data)} bytes is not a whole number of "
            f"{RECORD_BYTES}-byte CIFAR-10 records"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    return records[:, 1:].reshape(-1, *IMAGE_SHAPE), _labels(labels, where)


def _labels(labels: np.ndarray, where: str | Path) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DataError(
            f"{where} is corrupt: labels range {labels.min()}..{labels.max()}, "
            f"expected 0..{NUM_CLASSES - 1}"
        )
    return labels


def read_python_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    return parse_python_batch(read_bytes(path), path)


def read_binary_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    return parse_binary_batch(read_bytes(path), path)
