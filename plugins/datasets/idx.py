"""The IDX format of MNIST and Fashion-MNIST, gzipped or not, read with numpy.

An IDX file is: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions, one
big-endian uint32 per dimension, then the values in C order, big-endian. Every way a file can be
wrong (bad magic, unknown type, truncated, trailing bytes, a size past any array) is a
``DataError`` naming the file; a file is read no further than its header declares.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phasebench.errors import DataError
from phasebench_builtins.datasets.rawbytes import read_bytes

#: IDX type codes and the numpy dtypes they denote (big-endian where it matters).
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


#: The most bytes an IDX array may declare: numpy cannot index past it (a header whose
#: dimensions multiply past it, or wrap to 0 in 64 bits, is refused, not reshaped).
MAX_ARRAY_BYTES = sys.maxsize


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX header declares: the dtype and shape, the header's length in bytes and
    the length of the values after it."""

    dtype: np.dtype
    shape: tuple[int, ...]
    header_bytes: int
    body_bytes: int


def parse_header(data: bytes, where: str | Path) -> IdxHeader:
    """The header at the start of IDX bytes ``data`` (which may hold only the first bytes of
    the file); DataError naming ``where`` for a header that cannot be right."""
    if len(data) < 4:
        raise DataError(f"{where} is truncated: {len(data)} bytes, shorter than an IDX header")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES or data[3] == 0:
        raise DataError(
            f"{where} is not an IDX file (magic number 0x{data[:4].hex()}); "
            "expected e.g. 0x00000803 for images, 0x00000801 for labels"
        )
    dtype, ndim = IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{where} is truncated inside its header ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    body = math.prod(shape) * dtype.itemsize  # exact: no 64-bit wrap-around
    if body > MAX_ARRAY_BYTES:
        raise DataError(
            f"{where} is corrupt: its header declares shape {shape}, {body} bytes of data, "
            "more than any array can hold"
        )
    return IdxHeader(dtype, shape, header, body)


def declared_size(head: bytes, where: str | Path) -> int:
    """The total bytes (header and values) of the IDX file whose first bytes are ``head``:
    the bound ``read_bytes`` stops reading (and inflating) at."""
    header = parse_header(head, where)
    return header.header_bytes + header.body_bytes


def parse_idx(data: bytes, where: str | Path) -> np.ndarray:
    """The array in IDX bytes ``data`` (a read-only view); ``where`` names the file in errors."""
    header = parse_header(data, where)
    shape, expected = header.shape, header.body_bytes
    body = len(data) - header.header_bytes
    if body < expected:
        raise DataError(
            f"{where} is truncated: shape {shape} needs {expected} bytes of data, found {body}"
        )
    if body > expected:
        raise DataError(
            f"{where} is corrupt: {body - expected} bytes after the {shape} array it declares"
        )
    values = np.frombuffer(
        data,
        dtype=header.dtype,
        count=expected // header.dtype.itemsize,
        offset=header.header_bytes,
    )
    return values.reshape(shape)


def read_idx(path: str | Path) -> np.ndarray:
    """The array in the IDX file ``path`` (gzip detected by content), read no further than
    its header declares."""
    return parse_idx(read_bytes(path, declared_size), path)


def images_and_labels(
    images: np.ndarray, labels: np.ndarray, images_path: str | Path, labels_path: str | Path
) -> tuple[np.ndarray, np.ndarray]:
    """Check an IDX image array (N, H, W) uint8 against its label array (N,) uint8.

    Returns images as (N, 1, H, W) uint8 and labels as int64.
    """
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{images_path} holds {images.dtype} of shape {images.shape}, "
            "expected uint8 images (N, rows, cols)"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(
            f"{labels_path} holds {labels.dtype} of shape {labels.shape}, "
            "expected uint8 labels (N,)"
        )
    if len(images) != len(labels):
        raise DataError(
            f"label count mismatch: {labels_path} has {len(labels)} labels but "
            f"{images_path} has {len(images)} images"
        )
    return images[:, None, :, :], labels.astype(np.int64)
