"""``phasebench data status`` and ``phasebench data fetch`` through Typer's runner."""

from __future__ import annotations

import json

import pytest
from test_datasets_download import NAMES, tiny_dataset, tiny_idx_files
from test_datasets_helpers import gz, http_server
from typer.testing import CliRunner

from phasebench import hookimpl, plugins
from phasebench.cli.main import app

runner = CliRunner()


class TinyPlugin:
    def __init__(self, dataset):
        self.dataset = dataset

    @hookimpl
    def register_datasets(self, register):
        register("tiny-mnist", self.dataset, description="tiny", defaults={"dtype": "float32"})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PHASEBENCH_DATA", raising=False)
    monkeypatch.delenv("PHASEBENCH_OFFLINE", raising=False)
    return tmp_path / "cache" / "phasebench"


def _use(monkeypatch, dataset) -> None:
    loaded = plugins.load_components(extra_plugins=[("tiny", TinyPlugin(dataset))])
    monkeypatch.setattr(plugins, "_cached", loaded)


def _status(*args: str) -> list[dict]:
    result = runner.invoke(app, ["data", "status", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_status_lists_every_registered_dataset(cache):
    rows = _status()
    names = {row["dataset"] for row in rows}
    assert {"mnist", "fashion-mnist", "cifar10", "fashion-mnist-subset", "gaussian"} <= names
    subset = [r for r in rows if r["dataset"] == "fashion-mnist-subset"]
    assert subset[0]["found"] and subset[0]["path"].endswith("fashion_mnist_subset.npz")
    gaussian = [r for r in rows if r["dataset"] == "gaussian"]
    assert gaussian == [{"dataset": "gaussian", "file": None, "path": None, "found": True}]
    mnist = [r for r in rows if r["dataset"] == "mnist"]
    assert len(mnist) == 4 and not any(r["found"] for r in mnist)
    table = runner.invoke(app, ["data", "status"])
    assert table.exit_code == 0 and "fashion-mnist-subset" in table.output


def test_fetch_then_status_shows_the_cache(cache, monkeypatch):
    files = tiny_idx_files()
    with http_server({n + ".gz": gz(d) for n, d in files.items()}) as url:
        _use(monkeypatch, tiny_dataset(url, files, env=None))
        before = _status("tiny-mnist")
        assert [r["found"] for r in before] == [False] * 4
        result = runner.invoke(app, ["data", "fetch", "tiny-mnist"])
    assert result.exit_code == 0, result.output
    target = cache / "TinyMNIST" / "raw"
    assert sorted(result.stdout.split()) == sorted(str(target / n) for n in NAMES)
    after = _status("tiny-mnist")
    assert [r["path"] for r in after] == [str(target / n) for n in NAMES]
    again = runner.invoke(app, ["data", "fetch", "tiny-mnist", "-q"])  # present: no download
    assert again.exit_code == 0 and sorted(again.stdout.split()) == sorted(result.stdout.split())


def test_fetch_failure_is_one_line(cache, monkeypatch):
    files = tiny_idx_files()
    _use(monkeypatch, tiny_dataset("http://127.0.0.1:9/", files, env=None))
    result = runner.invoke(app, ["data", "fetch", "tiny-mnist", "-q"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: download of http://127.0.0.1:9/")
    assert result.stderr.count("\n") == 1
    assert not (cache / "TinyMNIST" / "raw").exists() or not any(
        (cache / "TinyMNIST" / "raw").iterdir()
    )


def test_fetch_unknown_or_fileless_dataset(cache):
    result = runner.invoke(app, ["data", "fetch", "fashion-mnsit"])
    assert result.exit_code == 2 and "did you mean 'fashion-mnist'" in result.stderr
    result = runner.invoke(app, ["data", "fetch", "teacher"])
    assert result.exit_code == 2 and "generated in memory" in result.stderr


def test_status_with_data_dir_in_torchvision_layout(cache, tmp_path):
    for name, data in tiny_idx_files().items():
        (tmp_path / "MNIST" / "raw").mkdir(parents=True, exist_ok=True)
        (tmp_path / "MNIST" / "raw" / name).write_bytes(data)
    rows = _status("mnist", "--data-dir", str(tmp_path))
    assert all(r["found"] and r["path"].startswith(str(tmp_path / "MNIST" / "raw")) for r in rows)
