"""Regenerate ``files/fashion_mnist_subset.npz`` bit-for-bit from the full Fashion-MNIST.

    python -m phasebench_builtins.datasets.make_subset [--source DIR] [--out PATH] [--check]

The cut (no randomness): the first ``TRAIN_PER_CLASS`` (600) training images of each class in
file order and the first ``TEST_PER_CLASS`` (100) test images of each class, kept in file order.
The archive stores, per split, ``images`` (N, 28, 28) uint8, ``labels`` (N,) uint8 and
``indices`` (N,) int32 (each example's position in the original file). It is written with fixed
zip timestamps and fixed deflate settings, so the same input gives the same bytes with the same
zlib (``ZLIB_VERSION``; the arrays are the same with any zlib); ``--check`` regenerates in
memory and compares with the shipped file.
The source defaults to Debian's ``/usr/share/datasets/fashion-mnist`` (package
``dataset-fashion-mnist``); its content is verified against the sha256 values in ``catalog.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from phasebench_builtins.datasets.catalog import IDX_SPLITS, fashion_mnist
from phasebench_builtins.datasets.checksum import check_content
from phasebench_builtins.datasets.idx import declared_size, parse_idx
from phasebench_builtins.datasets.rawbytes import read_bytes

TRAIN_PER_CLASS = 600
TEST_PER_CLASS = 100
NUM_CLASSES = 10
DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT = Path(__file__).resolve().parent / "files" / "fashion_mnist_subset.npz"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: The zlib that wrote the shipped file; another zlib may deflate to different (valid) bytes.
ZLIB_VERSION = "1.2.13"


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` examples of each class, in file order."""
    chosen = [np.flatnonzero(labels == c)[:per_class] for c in range(NUM_CLASSES)]
    if any(len(idx) < per_class for idx in chosen):
        raise ValueError(f"fewer than {per_class} examples in some class")
    return np.sort(np.concatenate(chosen)).astype(np.int32)


def _read_verified(source: Path, name: str) -> np.ndarray:
    path = source / f"{name}.gz" if (source / f"{name}.gz").is_file() else source / name
    data = read_bytes(path, declared_size)
    check_content(data, fashion_mnist.layouts[0].content_hashes[name], path, "use the real files")
    return parse_idx(data, path)


def subset_arrays(source: Path) -> dict[str, np.ndarray]:
    """The arrays of the subset, cut from the IDX files in ``source``."""
    arrays: dict[str, np.ndarray] = {}
    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        images_name, labels_name = IDX_SPLITS[split]
        images, labels = _read_verified(source, images_name), _read_verified(source, labels_name)
        indices = first_per_class(labels, per_class)
        arrays[f"{split}_images"] = np.ascontiguousarray(images[indices])
        arrays[f"{split}_labels"] = np.ascontiguousarray(labels[indices])
        arrays[f"{split}_indices"] = indices
    return arrays


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz (readable by ``np.load``) whose bytes depend only on the arrays."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, arrays[key], allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue(), compresslevel=9)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)
    data = npz_bytes(subset_arrays(args.source))
    digest = hashlib.sha256(data).hexdigest()
    if args.check:
        same = args.out.is_file() and args.out.read_bytes() == data
        print(f"{'identical' if same else 'DIFFERENT'}: {args.out} (regenerated sha256 {digest})")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out}: {len(data)} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
