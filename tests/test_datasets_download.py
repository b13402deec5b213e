"""Finding and downloading dataset files: search order, a local HTTP server, no partial file."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from test_datasets_helpers import (
    cifar_arrays,
    cifar_python_bytes,
    gz,
    http_server,
    idx_bytes,
    md5,
    sha256,
    tar_gz,
    tiny_mnist,
    write,
)

from phasebench.errors import DataError
from phasebench_builtins.datasets import locate
from phasebench_builtins.datasets.catalog import (
    IDX_SPLITS,
    decode_cifar_python,
    fashion_mnist,
    idx_layout,
)
from phasebench_builtins.datasets.download import Archive
from phasebench_builtins.datasets.sources import FileDataset, Layout

NAMES = [*IDX_SPLITS["train"], *IDX_SPLITS["test"]]


def tiny_idx_files() -> dict[str, bytes]:
    """Decompressed IDX bytes of a 20-example train and 10-example test set."""
    train_images, train_labels = tiny_mnist(20, seed=1)
    test_images, test_labels = tiny_mnist(10, seed=2)
    arrays = [train_images, train_labels, test_images, test_labels]
    return {name: idx_bytes(array) for name, array in zip(NAMES, arrays, strict=True)}


def tiny_dataset(base_url: str, files: dict[str, bytes], env: dict[str, str]) -> FileDataset:
    served = {name: gz(data) for name, data in files.items()}
    layout = idx_layout(
        base_url,
        archive_md5={name: md5(served[name]) for name in NAMES},
        content_hashes={name: sha256(data) for name, data in files.items()},
        subdirs=("TinyMNIST/raw", ""),
    )
    return FileDataset("tiny-mnist", (layout,), num_classes=10, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_download_success_then_load(tmp_path, env):
    files = tiny_idx_files()
    served = {name + ".gz": gz(data) for name, data in files.items()}
    with http_server(served) as url:
        dataset = tiny_dataset(url, files, env)
        paths = dataset.fetch(progress=False)
        split = dataset("train")
    target = tmp_path / "cache" / "phasebench" / "TinyMNIST" / "raw"
    assert sorted(paths) == sorted(target / name for name in NAMES)
    assert all((target / name).read_bytes() == files[name] for name in NAMES)
    assert leftovers(target) == sorted(NAMES)  # decompressed files only: no archive, no temp
    assert split.inputs.shape == (20, 1, 28, 28) and split.labels.dtype.is_floating_point is False


def test_load_downloads_what_is_missing(env):
    files = tiny_idx_files()
    with http_server({n + ".gz": gz(d) for n, d in files.items()}) as url:
        test = tiny_dataset(url, files, env)("test")
    assert len(test) == 10


def test_fetch_into_data_dir(tmp_path, env):
    files = tiny_idx_files()
    with http_server({n + ".gz": gz(d) for n, d in files.items()}) as url:
        tiny_dataset(url, files, env).fetch(data_dir=tmp_path / "mine", progress=False)
    assert leftovers(tmp_path / "mine" / "TinyMNIST" / "raw") == sorted(NAMES)
    assert not (tmp_path / "cache").exists()


def test_archive_checksum_mismatch_keeps_nothing(tmp_path, env):
    files = tiny_idx_files()
    served = {n + ".gz": gz(d) for n, d in files.items()}
    served["train-images-idx3-ubyte.gz"] = gz(files["train-images-idx3-ubyte"] + b"tampered")
    with http_server(served) as url:
        dataset = tiny_dataset(url, files, env)
        with pytest.raises(DataError, match="checksum mismatch") as info:
            dataset.fetch(progress=False)
    assert "train-images-idx3-ubyte.gz" in str(info.value) and "\n" not in str(info.value)
    assert leftovers(tmp_path / "cache" / "phasebench" / "TinyMNIST" / "raw") == []


def test_content_checksum_mismatch_keeps_nothing(tmp_path, env):
    files = tiny_idx_files()
    wrong = dict(
        files, **{"t10k-labels-idx1-ubyte": files["t10k-labels-idx1-ubyte"][:-1] + b"\x03"}
    )
    served = {n + ".gz": gz(d) for n, d in wrong.items()}
    with http_server(served) as url:
        dataset = tiny_dataset(url, files, env)
        layout = dataset.layouts[0]
        # the archives match what is served; only the decompressed content is wrong
        archives = tuple(
            Archive(a.url, md5(served[a.files[0] + ".gz"]), a.files) for a in layout.archives
        )
        dataset = FileDataset(
            "tiny-mnist",
            (
                Layout(
                    layout.content_hashes, layout.subdirs, layout.splits, layout.decode, archives
                ),
            ),
            10,
            env=env,
        )
        with pytest.raises(DataError, match="checksum mismatch: .*t10k-labels-idx1-ubyte"):
            dataset.fetch(progress=False)
    target = tmp_path / "cache" / "phasebench" / "TinyMNIST" / "raw"
    assert "t10k-labels-idx1-ubyte" not in leftovers(target)
    assert not [name for name in leftovers(target) if name.startswith(".download")]


def test_connection_refused_is_one_line_with_the_three_ways(tmp_path, env):
    files = tiny_idx_files()
    dataset = tiny_dataset(f"http://127.0.0.1:{free_port()}/", files, env)
    with pytest.raises(DataError) as info:
        dataset("train")
    message = str(info.value)
    assert "\n" not in message
    assert "download of http://127.0.0.1" in message and "failed" in message
    assert "--data-dir" in message and "PHASEBENCH_DATA" in message
    assert "phasebench data fetch tiny-mnist" in message
    assert str(tmp_path / "cache" / "phasebench") in message
    assert leftovers(tmp_path / "cache" / "phasebench" / "TinyMNIST" / "raw") == []


def test_offline_does_not_try_the_network(env):
    dataset = tiny_dataset(
        "http://127.0.0.1:9/", tiny_idx_files(), {**env, "PHASEBENCH_OFFLINE": "1"}
    )
    with pytest.raises(DataError, match="download off"):
        dataset("test")


def test_search_order_data_dir_env_cache(tmp_path):
    files = tiny_idx_files()
    cache = tmp_path / "cache"
    env_dir, arg_dir = tmp_path / "env", tmp_path / "arg"
    for root in (cache / "phasebench", env_dir, arg_dir):
        for name, data in files.items():
            write(root / "TinyMNIST" / "raw" / name, data)
    env = {"XDG_CACHE_HOME": str(cache), "PHASEBENCH_DATA": str(env_dir)}
    dataset = tiny_dataset("http://127.0.0.1:9/", files, env)
    assert dataset.locate(arg_dir)[0][1] == arg_dir / "TinyMNIST" / "raw" / NAMES[0]
    assert dataset.locate()[0][1] == env_dir / "TinyMNIST" / "raw" / NAMES[0]
    no_env = tiny_dataset("http://127.0.0.1:9/", files, {"XDG_CACHE_HOME": str(cache)})
    assert no_env.locate()[0][1] == cache / "phasebench" / "TinyMNIST" / "raw" / NAMES[0]


def test_cache_dir_respects_xdg(tmp_path, monkeypatch):
    assert locate.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "phasebench"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert locate.cache_dir({}) == tmp_path / "home" / ".cache" / "phasebench"


def test_torchvision_layout_and_gzip_found_for_fashion_mnist(tmp_path):
    """Files a user already has in torchvision's layout win over the system copy."""
    files = tiny_idx_files()
    for name, data in files.items():
        write(tmp_path / "FashionMNIST" / "raw" / f"{name}.gz", gz(data))
    found = dict(fashion_mnist.locate(tmp_path))
    assert found["train-images-idx3-ubyte"] == (
        tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz"
    )
    # the tiny files are not Fashion-MNIST: loading them fails its checksum, naming the file
    with pytest.raises(DataError, match="checksum mismatch: .*FashionMNIST/raw/t10k-images"):
        fashion_mnist("test", data_dir=tmp_path)


def test_cifar_tar_download_extracts_only_verified_batches(tmp_path, env):
    names = [*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]
    batches = {}
    for i, name in enumerate(names):
        data, labels = cifar_arrays(3, seed=i)
        batches[name] = cifar_python_bytes(data, labels)
    archive_bytes = tar_gz("cifar-10-batches-py", {**batches, "readme.html": b"<html/>"})
    with http_server({"cifar-10-python.tar.gz": archive_bytes}) as url:
        layout = Layout(
            content_hashes={name: md5(data) for name, data in batches.items()},
            subdirs=("cifar-10-batches-py", ""),
            splits={"train": tuple(names[:5]), "test": ("test_batch",)},
            decode=decode_cifar_python,
            archives=(
                Archive(
                    f"{url}cifar-10-python.tar.gz",
                    md5(archive_bytes),
                    tuple(names),
                    tar_folder="cifar-10-batches-py",
                ),
            ),
        )
        dataset = FileDataset("tiny-cifar", (layout,), 10, env=env)
        train = dataset("train")
    assert train.inputs.shape == (15, 3, 32, 32)
    target = tmp_path / "cache" / "phasebench" / "cifar-10-batches-py"
    assert leftovers(target) == sorted(names)
    np.testing.assert_allclose(train.inputs.mean(dim=(1, 2, 3)).numpy(), 0, atol=1e-5)
