"""The real Fashion-MNIST, the shipped subset, preprocessing, synthetic data, and the registry."""

from __future__ import annotations

import hashlib
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from phasebench.errors import DataError, UsageError
from phasebench.plugins import components
from phasebench_builtins.datasets import make_subset, subset
from phasebench_builtins.datasets.catalog import fashion_mnist
from phasebench_builtins.datasets.idx import read_idx
from phasebench_builtins.datasets.preprocess import standardize_per_image

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
needs_debian = pytest.mark.skipif(
    not (DEBIAN / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed",
)


def dataset(name: str):
    """The registered dataset as the probe calls it: every declared option, ``given`` merged."""
    registration = components().get("dataset", name)
    return lambda split, **given: registration.load()(split, **registration.options(given))


def _per_image_moments(inputs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    flat = inputs.reshape(len(inputs), -1).double()
    return flat.mean(1).numpy(), flat.std(1, unbiased=False).numpy()


@needs_debian
def test_full_fashion_mnist_loads_from_the_system_location(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PHASEBENCH_DATA", raising=False)
    train, test = fashion_mnist("train"), fashion_mnist("test")
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.input_shape == (1, 28, 28) and train.inputs.dtype == torch.float32
    assert train.labels.dtype == torch.int64 and train.num_classes == 10
    assert torch.bincount(train.labels).tolist() == [6_000] * 10
    mean, std = _per_image_moments(train.inputs)
    np.testing.assert_allclose(mean, 0, atol=1e-5)
    np.testing.assert_allclose(std, 1, atol=1e-4)


def test_standardization_is_per_image_over_all_pixels_and_channels():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 3, 4, 4), dtype=np.uint8)
    images[2] = 7  # a constant image: zeros, not NaN
    out = standardize_per_image(images, "float64")
    flat = images.reshape(5, -1)[[0, 1, 3, 4]].astype(np.float64)
    expected = (flat - flat.mean(1, keepdims=True)) / flat.std(1, keepdims=True)
    np.testing.assert_allclose(out.reshape(5, -1)[[0, 1, 3, 4]], expected)
    assert np.all(out[2] == 0)
    assert standardize_per_image(images).dtype == np.float32


def test_shipped_subset_loads_offline_balanced(monkeypatch, tmp_path):
    monkeypatch.setenv("PHASEBENCH_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    load = components().load("dataset", "fashion-mnist-subset")
    train, test = load("train"), load("test")
    assert (len(train), len(test)) == (6_000, 1_000)
    assert torch.bincount(train.labels).tolist() == [600] * 10
    assert torch.bincount(test.labels).tolist() == [100] * 10
    assert train.input_shape == (1, 28, 28) and train.labels.dtype == torch.int64
    # the default probe: 10 steps at batch 512 and a sharpness batch of 2048 fit in train
    assert len(train) >= 10 * 512 and len(train) >= 2048
    mean, std = _per_image_moments(train.inputs)
    np.testing.assert_allclose(mean, 0, atol=1e-5)
    np.testing.assert_allclose(std, 1, atol=1e-4)
    assert load("train", dtype="float64").inputs.dtype == torch.float64


def test_shipped_subset_is_small_and_licensed():
    folder = subset.SUBSET_FILE.parent
    assert subset.SUBSET_FILE.stat().st_size < 4 * 2**20
    assert "MIT" in (folder / "LICENSE-fashion-mnist.txt").read_text()
    assert subset.SUBSET_SHA256 in (folder / "README.md").read_text()
    assert not (folder / "__init__.py").exists()


def test_subset_checksum_is_verified(tmp_path):
    copy = tmp_path / "fashion_mnist_subset.npz"
    shutil.copyfile(subset.SUBSET_FILE, copy)
    with copy.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(DataError, match="checksum mismatch") as info:
        subset.read_subset(copy)
    assert str(copy) in str(info.value)


@needs_debian
def test_subset_matches_the_debian_files_at_its_documented_indices():
    arrays = subset.read_subset()
    for split, per_class in (("train", 600), ("test", 100)):
        prefix = "train" if split == "train" else "t10k"
        images = read_idx(DEBIAN / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(DEBIAN / f"{prefix}-labels-idx1-ubyte.gz")
        indices = arrays[f"{split}_indices"]
        np.testing.assert_array_equal(indices, make_subset.first_per_class(labels, per_class))
        np.testing.assert_array_equal(arrays[f"{split}_images"], images[indices])
        np.testing.assert_array_equal(arrays[f"{split}_labels"], labels[indices])


@needs_debian
def test_make_subset_regenerates_the_shipped_file():
    arrays = make_subset.subset_arrays(DEBIAN)
    shipped = subset.read_subset()
    assert sorted(arrays) == sorted(shipped)
    for key, array in arrays.items():
        np.testing.assert_array_equal(array, shipped[key])
        assert array.dtype == shipped[key].dtype
    if zlib.ZLIB_RUNTIME_VERSION == make_subset.ZLIB_VERSION:  # deflate bytes depend on zlib
        data = make_subset.npz_bytes(arrays)
        assert hashlib.sha256(data).hexdigest() == subset.SUBSET_SHA256


@pytest.mark.parametrize("name", ["gaussian", "teacher"])
def test_synthetic_datasets_are_deterministic_and_split(name):
    reg = components().get("dataset", name)
    load = reg.load()
    options = reg.options({"n_train": 300, "n_test": 100, "dim": 8, "classes": 3})
    train, again, test = load("train", **options), load("train", **options), load("test", **options)
    assert train.inputs.shape == (300, 8) and len(test) == 100 and train.num_classes == 3
    assert torch.equal(train.inputs, again.inputs) and torch.equal(train.labels, again.labels)
    assert not torch.equal(train.inputs[:100], test.inputs)
    assert train.labels.dtype == torch.int64 and set(train.labels.tolist()) <= {0, 1, 2}
    other = load("train", **{**options, "seed": 1})
    assert not torch.equal(train.inputs, other.inputs)


def test_gaussian_clusters_are_balanced_and_separable():
    load = dataset("gaussian")
    split = load("train", n_train=600, n_test=60, dim=16, classes=3, separation=6.0)
    assert torch.bincount(split.labels).tolist() == [200, 200, 200]
    centroids = torch.stack([split.inputs[split.labels == c].mean(0) for c in range(3)])
    nearest = torch.cdist(split.inputs, centroids).argmin(1)
    assert (nearest == split.labels).float().mean() > 0.95


def test_teacher_labels_come_from_the_teacher():
    load = dataset("teacher")
    a = load("train", n_train=500, n_test=10, dim=4, classes=4, width=16)
    b = load("train", n_train=500, n_test=10, dim=4, classes=4, width=16, seed=3)
    assert len(torch.unique(a.labels)) > 1
    assert not torch.equal(a.labels, b.labels)


def test_bad_split_dtype_and_sizes_are_usage_errors():
    load = components().load("dataset", "fashion-mnist-subset")
    with pytest.raises(UsageError, match="no split 'validation'"):
        load("validation")
    with pytest.raises(UsageError, match="dtype 'int8'"):
        load("train", dtype="int8")
    with pytest.raises(UsageError, match="n_train must be a positive integer"):
        dataset("gaussian")("train", n_train=0)


def test_labels_are_indices_and_the_loss_one_hot_encodes_them():
    split = components().load("dataset", "fashion-mnist-subset")("test")
    assert split.labels.ndim == 1 and split.labels.dtype == torch.int64
    targets = components().load("loss", "mse")().encode_targets(split.labels[:5], split.num_classes)
    assert targets.shape == (5, 10)
    assert torch.equal(targets.argmax(1), split.labels[:5])


def test_every_builtin_dataset_is_registered_with_dtype_option():
    registry = components().registry("dataset")
    expected = {"mnist", "fashion-mnist", "cifar10", "fashion-mnist-subset", "gaussian", "teacher"}
    assert expected <= set(registry.names())
    for name in expected:
        reg = registry.get(name)
        assert reg.defaults.get("dtype") == "float32" and reg.description
