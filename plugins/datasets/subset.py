"""The shipped offline default: a class-balanced subset of Fashion-MNIST (see files/README.md).

The archive ships inside the package and is checked against its sha256 on every load; it is
preprocessed exactly like the full dataset (each image standardized by its own mean and std).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from phasebench.errors import DataError
from phasebench_builtins.datasets.preprocess import check_dtype, check_split, image_split

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.data import Split

SUBSET_FILE = Path(__file__).resolve().parent / "files" / "fashion_mnist_subset.npz"
SUBSET_SHA256 = "25402d67e75a266907c619fa5af140626f49c783bb8ba736e9e5e4d5cb3b06f6"
NUM_CLASSES = 10
NAME = "fashion-mnist-subset"


def read_subset(path: Path = SUBSET_FILE, sha256: str = SUBSET_SHA256) -> dict[str, np.ndarray]:
    """Every array of the verified archive (``train_images``, ``train_labels``, ...)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"the shipped {path.name} is missing ({exc.strerror}); reinstall phasebench"
        ) from None
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise DataError(
            f"checksum mismatch: {path} has sha256 {got}, expected {sha256}; reinstall phasebench"
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


class FashionMNISTSubset:
    """``load(split, data_dir=None, dtype="float32") -> Split``; ``data_dir`` is not used."""

    name = NAME

    def __call__(
        self, split: str, data_dir: str | Path | None = None, dtype: str = "float32"
    ) -> Split:
        check_split(split, NAME)
        check_dtype(dtype, NAME)
        arrays = read_subset()
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        return image_split(images[:, None], labels, NUM_CLASSES, f"{NAME}/{split}", dtype)

    def locate(self, data_dir: str | Path | None = None) -> list[tuple[str, Path | None]]:
        return [(SUBSET_FILE.name, SUBSET_FILE if SUBSET_FILE.is_file() else None)]

    def fetch(self, data_dir: str | Path | None = None, progress: bool = True) -> list[Path]:
        """Nothing to download: the file ships with phasebench."""
        read_subset()
        return [SUBSET_FILE]


fashion_mnist_subset = FashionMNISTSubset()
