"""The IDX and CIFAR readers on generated files, every corrupt case, and the safe unpickler."""

from __future__ import annotations

import os
import pickle
import tracemalloc
import zlib

import numpy as np
import pytest
from test_datasets_helpers import (
    cifar_arrays,
    cifar_binary_bytes,
    cifar_python_bytes,
    gz,
    idx_bytes,
    tiny_mnist,
    write,
)

from phasebench.errors import DataError
from phasebench_builtins.datasets.catalog import cifar10, fashion_mnist
from phasebench_builtins.datasets.cifar import (
    parse_python_batch,
    read_binary_batch,
    read_python_batch,
    restricted_loads,
)
from phasebench_builtins.datasets.idx import images_and_labels, read_idx
from phasebench_builtins.datasets.rawbytes import read_bytes


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_idx_round_trip(tmp_path, compress):
    images, labels = tiny_mnist(12)
    wrap = gz if compress else (lambda b: b)
    ipath = write(tmp_path / "images", wrap(idx_bytes(images)))
    lpath = write(tmp_path / "labels", wrap(idx_bytes(labels)))
    got_images, got_labels = images_and_labels(read_idx(ipath), read_idx(lpath), ipath, lpath)
    assert got_images.shape == (12, 1, 28, 28) and got_images.dtype == np.uint8
    np.testing.assert_array_equal(got_images[:, 0], images)
    assert got_labels.dtype == np.int64
    np.testing.assert_array_equal(got_labels, labels)


def test_idx_reads_other_types(tmp_path):
    values = np.arange(-3, 3, dtype=np.int32).reshape(2, 3)
    got = read_idx(write(tmp_path / "ints", idx_bytes(values, type_code=0x0C)))
    np.testing.assert_array_equal(got, values)


def _corrupt_cases():
    images, _ = tiny_mnist(4)
    good = idx_bytes(images)
    return {
        "empty": (b"", "truncated"),
        "short header": (good[:10], "truncated inside its header"),
        "truncated data": (good[:-5], "truncated"),
        "trailing bytes": (good + b"\0\0", "bytes after"),
        "wrong magic": (b"\x12\x34" + good[2:], "not an IDX file"),
        "unknown type": (good[:2] + b"\x07" + good[3:], "not an IDX file"),
        "zero dims": (good[:3] + b"\x00" + good[4:], "not an IDX file"),
        "truncated gzip": (gz(good)[:-20], "truncated gzip"),
        "corrupt gzip": (gz(good)[:12] + b"\xff" * 40, "corrupt gzip"),
    }


@pytest.mark.parametrize("case", list(_corrupt_cases()))
def test_idx_corrupt_files_name_the_file(tmp_path, case):
    data, expected = _corrupt_cases()[case]
    path = write(tmp_path / "bad-images-idx3-ubyte", data)
    with pytest.raises(DataError, match=expected) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def gzip_bomb(path, head: bytes, zeros: int) -> int:
    """Write gzip(head + ``zeros`` zero bytes) to ``path``, compressing 1 MiB at a time (the
    test never holds what the file inflates to); returns the file's size."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    with open(path, "wb") as out:
        out.write(compressor.compress(head))
        for _ in range(zeros // len(block)):
            out.write(compressor.compress(block))
        out.write(compressor.flush())
    return path.stat().st_size


def _peak_bytes_of(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


BOMB_ZEROS = 64 << 20  # 64 MiB of zeros after a 4-image header: a ~64 KB file


def test_a_gzip_that_inflates_past_its_header_is_refused_without_inflating_it(tmp_path):
    images, _ = tiny_mnist(4)
    good = idx_bytes(images)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    size = gzip_bomb(path, good, BOMB_ZEROS)
    assert size < 2 << 20
    errors = []

    def read():
        with pytest.raises(DataError, match="inflates to more than the 3152 bytes") as info:
            read_idx(path)
        errors.append(str(info.value))

    peak = _peak_bytes_of(read)
    assert peak < 16 << 20, f"held {peak} bytes to refuse a file declaring 3152"
    (message,) = errors
    assert str(path) in message and "\n" not in message


def test_a_gzip_bomb_in_a_data_dir_is_one_data_error(tmp_path):
    """Through the dataset component: the layout bounds every IDX file it reads."""
    images, labels = tiny_mnist(4)
    folder = tmp_path / "FashionMNIST" / "raw"
    folder.mkdir(parents=True)
    gzip_bomb(folder / "t10k-images-idx3-ubyte.gz", idx_bytes(images), BOMB_ZEROS)
    write(folder / "t10k-labels-idx1-ubyte.gz", gz(idx_bytes(labels)))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz inflates to more than"):
        fashion_mnist("test", data_dir=tmp_path)


def test_a_plain_file_longer_than_its_header_is_refused_unread(tmp_path):
    images, _ = tiny_mnist(4)
    path = write(tmp_path / "images", idx_bytes(images) + bytes(1 << 20))
    with pytest.raises(DataError, match="holds more than the 3152 bytes its header declares"):
        read_idx(path)


@pytest.mark.parametrize(
    "dims",
    [(65536, 65536, 65536, 65536), (2**32 - 1, 2**32 - 1, 2**32 - 1)],
    ids=["wraps-to-0", "overflows"],
)
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_an_idx_header_whose_size_wraps_or_overflows_is_one_line(tmp_path, dims, compress):
    header = bytes([0, 0, 0x08, len(dims)]) + np.asarray(dims, ">u4").tobytes()
    path = write(tmp_path / "huge-idx", gz(header) if compress else header)
    with pytest.raises(DataError, match="more than any array can hold") as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_gzip_members_and_zero_padding_read_as_gzip_does(tmp_path):
    images, _ = tiny_mnist(5)
    good = idx_bytes(images)
    path = write(tmp_path / "members.gz", gz(good[:1000]) + gz(good[1000:]) + bytes(16))
    np.testing.assert_array_equal(read_idx(path), images)
    assert read_bytes(path) == good
    trailing = write(tmp_path / "trailing.gz", gz(good) + b"not gzip")
    with pytest.raises(DataError, match="corrupt gzip"):
        read_bytes(trailing)


def test_idx_label_count_mismatch(tmp_path):
    images, labels = tiny_mnist(6)
    ipath = write(tmp_path / "img", idx_bytes(images))
    lpath = write(tmp_path / "lab", idx_bytes(labels[:5]))
    with pytest.raises(DataError, match="label count mismatch") as info:
        images_and_labels(read_idx(ipath), read_idx(lpath), ipath, lpath)
    assert str(ipath) in str(info.value) and str(lpath) in str(info.value)


def test_idx_images_and_labels_swapped(tmp_path):
    images, labels = tiny_mnist(6)
    ipath = write(tmp_path / "img", idx_bytes(images))
    lpath = write(tmp_path / "lab", idx_bytes(labels))
    with pytest.raises(DataError, match="expected uint8 images"):
        images_and_labels(read_idx(lpath), read_idx(ipath), lpath, ipath)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("fmt", ["binary", "python"])
def test_cifar_round_trip(tmp_path, fmt, compress):
    data, labels = cifar_arrays(7)
    raw = cifar_binary_bytes(data, labels) if fmt == "binary" else cifar_python_bytes(data, labels)
    path = write(tmp_path / "batch", gz(raw) if compress else raw)
    reader = read_binary_batch if fmt == "binary" else read_python_batch
    images, got_labels = reader(path)
    assert images.shape == (7, 3, 32, 32) and images.dtype == np.uint8
    # channel-major 3072 values: red 1024, green 1024, blue 1024, each row-major 32 x 32
    np.testing.assert_array_equal(images[3, 1, 2, 5], data[3, 1024 + 2 * 32 + 5])
    np.testing.assert_array_equal(got_labels, labels)
    assert got_labels.dtype == np.int64


@pytest.mark.parametrize("protocol", [3, 4])
def test_python_batch_any_plain_pickle_protocol(protocol):
    data, labels = cifar_arrays(3)
    images, got = parse_python_batch(cifar_python_bytes(data, labels, protocol), "batch")
    np.testing.assert_array_equal(images.reshape(3, -1), data)


def test_python_batch_written_by_numpy_1_names():
    """The real batches name numpy.core.multiarray._reconstruct (numpy 1, Python 2)."""
    data, labels = cifar_arrays(3)
    raw = cifar_python_bytes(data, labels, protocol=3)
    assert b"cnumpy._core.multiarray\n_reconstruct\n" in raw
    raw = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    images, got = parse_python_batch(raw, "batch")
    np.testing.assert_array_equal(images.reshape(3, -1), data)


def test_python_batch_with_bytes_keys_like_python2():
    data, labels = cifar_arrays(3)
    raw = pickle.dumps({b"data": data, b"labels": [int(v) for v in labels]}, protocol=3)
    images, got = parse_python_batch(raw, "batch")
    np.testing.assert_array_equal(got, labels)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_a_function_call(tmp_path):
    payload = pickle.dumps({"data": _Evil(), "labels": []})
    with pytest.raises(pickle.UnpicklingError, match="refused to load global"):
        restricted_loads(payload)
    path = write(tmp_path / "data_batch_1", payload)
    with pytest.raises(DataError, match="refused to load global") as info:
        read_python_batch(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(print),
        pickle.dumps(np.ones(2)),  # a float array is not what a batch holds
        pickle.dumps({"data": np.array([object()], dtype=object), "labels": [0]}),
        pickle.dumps(slice(1, 2)),
    ],
    ids=["builtin", "float-array", "object-array", "slice"],
)
def test_python_batch_rejects_anything_but_plain_data(payload):
    with pytest.raises(DataError):
        parse_python_batch(payload, "batch")


def test_python_batch_corrupt_cases(tmp_path):
    data, labels = cifar_arrays(4)
    good = cifar_python_bytes(data, labels)
    cases = {
        "truncated": (good[: len(good) // 2], "truncated or corrupt"),
        "not a dict": (pickle.dumps([1, 2]), "not a CIFAR python batch"),
        "label mismatch": (cifar_python_bytes(data, labels[:3]), "label count mismatch"),
        "bad labels": (cifar_python_bytes(data, labels + 10), "labels range"),
        "wrong width": (cifar_python_bytes(data[:, :100], labels), "expected 3072"),
    }
    for name, (raw, expected) in cases.items():
        path = write(tmp_path / name.replace(" ", "_"), raw)
        with pytest.raises(DataError, match=expected):
            read_python_batch(path)


def test_cifar_binary_corrupt_cases(tmp_path):
    data, labels = cifar_arrays(3)
    good = cifar_binary_bytes(data, labels)
    for name, raw, expected in [
        ("truncated", good[:-1], "whole number"),
        ("empty", b"", "whole number"),
        ("bad label", cifar_binary_bytes(data, labels * 0 + 12), "labels range"),
    ]:
        path = write(tmp_path / name, raw)
        with pytest.raises(DataError, match=expected) as info:
            read_binary_batch(path)
        assert str(path) in str(info.value)


def test_cifar10_loads_binary_batches_from_a_data_dir(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    expected = []
    for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        data, labels = cifar_arrays(2, seed=i)
        write(folder / f"{name}.bin", cifar_binary_bytes(data, labels))
        expected.append(labels)
    train = cifar10("train", data_dir=tmp_path)
    test = cifar10("test", data_dir=tmp_path)
    assert train.inputs.shape == (10, 3, 32, 32) and len(test) == 2
    np.testing.assert_array_equal(train.labels.numpy(), np.concatenate(expected[:5]))
    assert train.name == "cifar10/train" and train.num_classes == 10


def test_cifar10_python_batches_are_checked_against_published_md5(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    data, labels = cifar_arrays(2)
    for name in [*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]:
        write(folder / name, cifar_python_bytes(data, labels))
    with pytest.raises(DataError, match="checksum mismatch") as info:
        cifar10("test", data_dir=tmp_path)
    assert str(folder / "test_batch") in str(info.value)
