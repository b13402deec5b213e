"""`phasebench sweep`: the same numbers through every executor, failures recorded, a killed
driver resumed, bad input refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import process_groups
import pytest
from support import subprocess_env
from typer.testing import CliRunner

from phasebench.cli.main import app
from phasebench.results import load

TINY = [
    "--model",
    "fcn",
    "--depths",
    "2",
    "--widths",
    "8,16",
    "--seeds",
    "2",
    "--sharpness-examples",
    "64",
    "--loss-examples",
    "128",
    "--batch-size",
    "32",
    "--x-step",
    "1",
    "--x-max",
    "6",
]
runner = CliRunner()


def sweep(*args: str):
    return runner.invoke(app, ["sweep", *args])


def runs_by_id(path) -> dict[str, dict]:
    return {rid: run for scan in load(path)["scans"].values() for rid, run in scan["runs"].items()}


@pytest.fixture(scope="module")
def local_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "local.h5"
    result = sweep(*TINY, "--executor", "local", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_a_sweep_writes_every_point_and_its_aggregates(local_result):
    loaded = load(local_result)
    assert len(loaded["scans"]) == 4 and all(s["complete"] for s in loaded["scans"].values())
    widths = sorted(p["config"]["model"]["options"]["width"] for p in loaded["points"].values())
    assert widths == [8, 16]
    for point in loaded["points"].values():
        assert len(point["scans"]) == 2
        assert set(point["aggregates"]) == {"c_loss", "c_sharp", "c_barrier", "c_max"}


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_every_executor_gives_the_same_numbers(local_result, tmp_path, executor):
    out = tmp_path / f"{executor}.h5"
    result = sweep(*TINY, "--executor", executor, "--workers", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    expected, got = runs_by_id(local_result), runs_by_id(out)
    assert set(got) == set(expected)
    for run_id, run in expected.items():
        for name in ("loss", "batch_loss", "sharpness", "hvps", "barrier_loss"):
            np.testing.assert_array_equal(got[run_id][name], run[name], err_msg=name)


FAILING_PLUGIN = """
from phasebench import hookimpl


@hookimpl
def register_models(register):
    register("fragile", "fragile_plugin:build", description="breaks at width 13",
             defaults={"depth": 2, "width": 8})


def build(input_shape, num_outputs, depth=2, width=8):
    if width == 13:
        raise RuntimeError("width 13 is unlucky")
    from phasebench_builtins.models.fcn import build as fcn

    return fcn(input_shape, num_outputs, depth=depth, width=width, activation="relu", bias=False)
"""


def test_a_task_that_always_raises_is_recorded_and_the_rest_finish(
    tmp_path, add_entry_points, plugin_module
):
    plugin_module("fragile_plugin", FAILING_PLUGIN)  # a third-party model, through register_models
    add_entry_points(("fragile", "fragile_plugin"))
    out = tmp_path / "failing.h5"
    args = [a if a != "fcn" else "fragile" for a in TINY]
    args[args.index("8,16")] = "8,13"
    result = sweep(*args, "--executor", "local", "--retries", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "2 scans done, 2 failed" in result.output
    loaded = load(out)
    assert len(loaded["failures"]) == 2
    for failure in loaded["failures"].values():
        assert failure["attempts"] == 2
        assert failure["error"] == "RuntimeError: width 13 is unlucky"
        assert failure["config"]["model"]["options"]["width"] == 13
    assert all(s["complete"] for s in loaded["scans"].values()) and len(loaded["scans"]) == 2


def _complete_scans(path) -> int:
    try:
        with h5py.File(path, "r") as f:
            return sum(bool(s.attrs.get("complete")) for s in f["scans"].values())
    except (OSError, KeyError):
        return 0


def _process_sweep(out) -> tuple[list[str], dict[str, str]]:
    """The command and environment of TINY through 2 worker processes, in a real subprocess."""
    cmd = [
        sys.executable,
        "-m",
        "phasebench.cli.main",
        "sweep",
        *TINY,
        "--executor",
        "process",
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    return cmd, subprocess_env(HDF5_USE_FILE_LOCKING="FALSE")


def test_a_killed_driver_leaves_a_readable_file_and_resume_completes_it(tmp_path, local_result):
    out = tmp_path / "killed.h5"
    cmd, env = _process_sweep(out)
    driver = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        while _complete_scans(out) < 1 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.1)
        assert driver.poll() is None, "the sweep finished before it could be killed"
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        orphans = process_groups.wait_until_gone(driver.pid, timeout=30)  # workers, tracker
        assert not orphans, f"still alive after the driver died: {orphans}"
    finally:
        process_groups.kill_group(driver.pid)
    partial = load(out)
    assert 1 <= sum(s["complete"] for s in partial["scans"].values()) < 4
    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "complete scans already" in resumed.stderr
    runs = runs_by_id(out)
    assert set(runs) == set(runs_by_id(local_result))  # everything, once
    with h5py.File(out) as f:
        ids = [rid for scan in f["scans"].values() for rid in scan["runs"]]
    assert len(ids) == len(set(ids))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--depths", ""], "--depths is empty"),
        (["--widths", "8,x"], "--widths '8,x' is not a comma-separated list of integers"),
        (["--executor", "process", "--workers", "0"], "workers must be a positive integer"),
        (["--executor", "slurm"], "unknown executor 'slurm'"),
        (["--executor", "local", "--scheduler", "tcp://x:1"], "executor 'local' has no option"),
        (["--model", "uv"], "model 'uv' has no option 'depth'"),
        (
            ["--executor", "process", "--opt", "executor.task_timeout=0"],
            "task_timeout must be a positive number",
        ),
        (
            ["--executor", "local", "--opt", "executor.task_timeout=60"],
            "executor 'local' has no option 'task_timeout'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = sweep(*TINY, *args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_an_unreachable_scheduler_fails_in_bounded_time(tmp_path):
    started = time.monotonic()
    result = sweep(
        *TINY,
        "--executor",
        "dask",
        "--scheduler",
        f"tcp://127.0.0.1:{_free_port()}",
        "--opt",
        "executor.connect_timeout=2",
        "--out",
        str(tmp_path / "x.h5"),
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 2 and "tcp://127.0.0.1" in result.output, result.output
    assert elapsed < 30
    assert not (tmp_path / "x.h5").exists()


def _workers_of(pid: int) -> list[int]:
    """The spawned worker processes of a driver (children running multiprocessing's spawn_main)."""
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return []
    workers = []
    for child in map(int, children):
        try:
            cmdline = open(f"/proc/{child}/cmdline", "rb").read()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(child)
    return workers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_killed_mid_sweep_is_retried_and_the_sweep_completes(tmp_path, local_result):
    out = tmp_path / "worker-killed.h5"
    cmd, env = _process_sweep(out)
    driver = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 240
    killed = None
    while killed is None and time.monotonic() < deadline and driver.poll() is None:
        workers = _workers_of(driver.pid)
        if workers and _complete_scans(out) >= 1:
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    assert killed is not None, "no worker to kill before the sweep ended"
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    assert "4 scans done, 0 failed" in stdout
    assert set(runs_by_id(out)) == set(runs_by_id(local_result))


FORWARD_RAISES = """
import torch

from phasebench import hookimpl


@hookimpl
def register_models(register):
    register("broken", "broken_forward:build", description="builds, then fails to run",
             defaults={"depth": 2, "width": 8})


class Broken(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.layer = torch.nn.Linear(4, width)

    def forward(self, x):
        raise RuntimeError("no forward pass today")


def build(input_shape, num_outputs, depth=2, width=8):
    return Broken(width)
"""


def test_a_sweep_whose_every_task_failed_exits_1_with_the_count(
    tmp_path, add_entry_points, plugin_module
):
    """main: "0 scans done, 2 failed" and exit 0."""
    plugin_module("broken_forward", FORWARD_RAISES)
    add_entry_points(("broken", "broken_forward"))
    out = tmp_path / "failed.h5"
    args = [a if a != "fcn" else "broken" for a in TINY]
    args[args.index("8,16")] = "8"
    result = sweep(*args, "--executor", "local", "--retries", "0", "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "0 scans done, 2 failed" in result.output
    assert result.output.strip().splitlines()[-1].startswith("error: every scan failed (2 of 2")
    assert len(load(out)["failures"]) == 2
