"""The paper's datasets as files: names, folders, hosts and checksums.

Checksums, and where each comes from:

- Fashion-MNIST: sha256 of the decompressed IDX files, computed from Debian's
  ``dataset-fashion-mnist`` 0.0~git20200523.55506a9-1 (Debian recompressed the .gz files, so the
  archive hashes differ from upstream's; the content is the same data). A download is also
  checked against the md5 of upstream's .gz archives, as published in torchvision.
- MNIST: only the md5 of the .gz archives is published (torchvision); a download is checked
  against it before decompressing. No published hash of the decompressed content was found, so
  files found on disk are checked by structure only (magic, shapes, sizes, label range).
- CIFAR-10 (python batches): md5 of the .tar.gz archive and of each extracted batch file, as
  published in torchvision; the batch md5s are checked on every load. The binary version is read
  when found but not downloaded, and has no published per-file hash: structure checks only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from phasebench_builtins.datasets.cifar import parse_binary_batch, parse_python_batch
from phasebench_builtins.datasets.download import Archive
from phasebench_builtins.datasets.idx import declared_size, images_and_labels, parse_idx
from phasebench_builtins.datasets.sources import FileDataset, Layout

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
CIFAR10_PYTHON_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

IDX_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def decode_idx(
    contents: Mapping[str, tuple[bytes, Path]], names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(images file, labels file) -> uint8 images (N, 1, H, W) and int64 labels."""
    (image_bytes, image_path), (label_bytes, label_path) = (contents[n] for n in names)
    return images_and_labels(
        parse_idx(image_bytes, image_path),
        parse_idx(label_bytes, label_path),
        image_path,
        label_path,
    )


def _concatenate(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def decode_cifar_python(
    contents: Mapping[str, tuple[bytes, Path]], names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    return _concatenate([parse_python_batch(*contents[n]) for n in names])


def decode_cifar_binary(
    contents: Mapping[str, tuple[bytes, Path]], names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    return _concatenate([parse_binary_batch(*contents[n]) for n in names])


def idx_layout(
    base_url: str,
    archive_md5: Mapping[str, str | None],
    content_hashes: Mapping[str, str | None],
    subdirs: tuple[str, ...],
) -> Layout:
    """An MNIST-style dataset: four IDX files, each downloaded as ``base_url + name + .gz``."""
    archives = tuple(
        Archive(f"{base_url}{name}.gz", archive_md5[name], (name,))
        for names in IDX_SPLITS.values()
        for name in names
    )
    return Layout(dict(content_hashes), subdirs, IDX_SPLITS, decode_idx, archives, declared_size)


fashion_mnist = FileDataset(
    name="fashion-mnist",
    layouts=(
        idx_layout(
            FASHION_MNIST_URL,
            archive_md5={
                "train-images-idx3-ubyte": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte": "md5:25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte": "md5:bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte": "md5:bb300cfdad3c16e7a12a480ee83cd310",
            },
            content_hashes={
                "train-images-idx3-ubyte": "sha256:"
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "train-labels-idx1-ubyte": "sha256:"
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "t10k-images-idx3-ubyte": "sha256:"
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "t10k-labels-idx1-ubyte": "sha256:"
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            },
            subdirs=("FashionMNIST/raw", "fashion-mnist", ""),
        ),
    ),
    num_classes=10,
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    extra_hint="install the Debian package dataset-fashion-mnist",
)

mnist = FileDataset(
    name="mnist",
    layouts=(
        idx_layout(
            MNIST_URL,
            archive_md5={
                "train-images-idx3-ubyte": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte": "md5:d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte": "md5:9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte": "md5:ec29112dd5afa0611ce80d1b7f02629c",
            },
            content_hashes=dict.fromkeys(
                [*IDX_SPLITS["train"], *IDX_SPLITS["test"]], None
            ),  # none published
            subdirs=("MNIST/raw", "mnist", ""),
        ),
    ),
    num_classes=10,
)

_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_BATCH_MD5 = {
    "data_batch_1": "md5:c99cafc152244af753f735de768cd75f",
    "data_batch_2": "md5:d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "md5:54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "md5:634d18415352ddfa80567beed471001a",
    "data_batch_5": "md5:482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "md5:40351d587109b95175f43aff81a1287e",
}

cifar10 = FileDataset(
    name="cifar10",
    layouts=(
        Layout(
            content_hashes=_CIFAR_BATCH_MD5,
            subdirs=("cifar-10-batches-py", ""),
            splits={"train": _CIFAR_TRAIN, "test": ("test_batch",)},
            decode=decode_cifar_python,
            archives=(
                Archive(
                    CIFAR10_PYTHON_URL,
                    "md5:c58f30108f718f92721af3b95e74349a",
                    tuple(_CIFAR_BATCH_MD5),
                    tar_folder="cifar-10-batches-py",
                ),
            ),
        ),
        Layout(
            content_hashes=dict.fromkeys([f"{n}.bin" for n in _CIFAR_BATCH_MD5], None),
            subdirs=("cifar-10-batches-bin", ""),
            splits={"train": tuple(f"{n}.bin" for n in _CIFAR_TRAIN), "test": ("test_batch.bin",)},
            decode=decode_cifar_binary,
        ),
    ),
    num_classes=10,
)
