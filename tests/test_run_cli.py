"""`phasebench run` end to end: the HDF5 file, resume, a killed process, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from support import subprocess_env
from typer.testing import CliRunner

from phasebench.cli.main import app
from phasebench.results import load

TINY = [
    "--model",
    "fcn",
    "--depth",
    "2",
    "--width",
    "16",
    "--sharpness-examples",
    "128",
    "--loss-examples",
    "256",
    "--batch-size",
    "64",
    "--x-step",
    "1",
    "--x-max",
    "6",
]
runner = CliRunner()


def run_cli(*args: str):
    return runner.invoke(app, ["run", *args])


def test_run_writes_trajectories_constants_and_provenance(tmp_path):
    out = tmp_path / "probe.h5"
    result = run_cli(*TINY, "--seeds", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "critical constants" in result.output and "phases of seed 0" in result.output
    loaded = load(out)
    assert loaded["attrs"]["format"] == "phasebench-results"
    assert len(loaded["scans"]) == 2
    for scan in loaded["scans"].values():
        assert scan["complete"] and scan["lambda0"] > 0 and scan["loss0"] > 0
        assert set(scan["constants"]) == {"c_loss", "c_sharp", "c_barrier", "c_max"}
        cs = sorted(run["c"] for run in scan["runs"].values())
        assert cs == [2.0**x for x in range(len(cs))]  # the grid, in order, until divergence
        for run in scan["runs"].values():
            assert run["loss"].shape == (11,) and run["sharpness"].shape == (11,)
            assert run["batch_loss"].shape == (10,) and run["hvps"].shape == (11,)
            assert run["loss"][0] == pytest.approx(scan["loss0"])
            assert run["sharpness"][0] == pytest.approx(scan["lambda0"])
            assert run["eta"] == pytest.approx(run["c"] / scan["lambda0"])
            assert run["config"]["model"] == {
                "name": "fcn",
                "options": {"activation": "relu", "bias": False, "depth": 2, "width": 16},
            }
            provenance = run["provenance"]
            for key in ("phasebench_version", "torch_version", "device", "dtype", "started"):
                assert provenance[key]
            if not run["diverged"]:
                assert (run["hvps"][1:] > 0).all() and run["barrier_loss"].shape == (101,)
    [point] = loaded["points"].values()
    assert point["aggregates"]["c_max"]["of"] == 2


def test_resume_skips_complete_scans_and_refuses_silent_duplicates(tmp_path):
    out = tmp_path / "probe.h5"
    assert run_cli(*TINY, "--out", str(out)).exit_code == 0
    again = run_cli(*TINY, "--out", str(out))
    assert again.exit_code == 2 and "pass --resume" in again.output
    resumed = run_cli(*TINY, "--out", str(out), "--resume")
    assert resumed.exit_code == 0 and "1 complete scans already" in resumed.output
    more = run_cli(*TINY, "--out", str(out), "--resume", "--seeds", "0,1")
    assert more.exit_code == 0
    assert len(load(out)["scans"]) == 2


def _runs_in(path) -> int:
    try:
        with h5py.File(path, "r") as f:
            return sum(len(scan["runs"]) for scan in f["scans"].values())
    except (OSError, KeyError):
        return 0


def test_a_killed_run_leaves_a_readable_file_and_resume_completes_it(tmp_path):
    out = tmp_path / "killed.h5"
    args = [*TINY, "--x-step", "0.5", "--seeds", "2", "--out", str(out)]
    cmd = [sys.executable, "-m", "phasebench.cli.main", "run", *args]
    env = subprocess_env(HDF5_USE_FILE_LOCKING="FALSE")
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _runs_in(out) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = load(out)  # readable after SIGKILL
    before = {rid for s in partial["scans"].values() for rid in s["runs"]}
    assert len(before) >= 3
    assert not all(s["complete"] for s in partial["scans"].values()) or len(partial["scans"]) < 2

    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    final = load(out)
    after = [rid for s in final["scans"].values() for rid in s["runs"]]
    assert len(after) == len(set(after)) and before <= set(after)
    assert len(final["scans"]) == 2 and all(s["complete"] for s in final["scans"].values())
    for scan in final["scans"].values():
        cs = sorted(r["c"] for r in scan["runs"].values())
        assert np.allclose(np.log2(cs), np.arange(len(cs)) * 0.5)  # no gap, no duplicate


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--c", "0,1"], "c must be positive"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--batch-size", "100000"], "--batch-size 100000 is larger than the 6000 training"),
        (["--model", "fnc"], "unknown model 'fnc'; did you mean 'fcn'?"),
        (["--estimator", "lanczoz"], "unknown estimator 'lanczoz'; did you mean 'lanczos'?"),
        (["--out", "/nonexistent/dir/x.h5"], "directory /nonexistent/dir does not exist"),
        (["--widht", "3"], "no chosen component takes --widht"),
        (["--width", "many"], "model 'fcn': width must be a positive integer, got 'many'"),
        (["--seeds", "0"], "--seeds 0: need at least one seed"),
        (["--dtype", "float16"], "unsupported dtype 'float16'"),
        (["--search", "newton"], "unknown --search 'newton'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0]


def test_bad_input_in_a_real_process_prints_no_traceback(tmp_path):
    cmd = [sys.executable, "-m", "phasebench.cli.main", "run", "--model", "fnc"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert (
        result.stderr.startswith("error: unknown model 'fnc'") and "Traceback" not in result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_run_help_names_every_protocol_option():
    result = runner.invoke(app, ["run", "--help"])
    for option in (
        "--model",
        "--estimator",
        "--c",
        "--x-min",
        "--steps",
        "--batch-size",
        "--sharpness-examples",
        "--loss-examples",
        "--seeds",
        "--sgd-seeds",
        "--dtype",
        "--device",
        "--out",
        "--resume",
        "--search",
    ):
        assert option in result.output, option


def test_constants_are_stored_as_json(tmp_path):
    out = tmp_path / "p.h5"
    assert run_cli(*TINY, "--out", str(out)).exit_code == 0
    with h5py.File(out, "r") as f:
        [scan] = f["scans"].values()
        constants = json.loads(scan.attrs["constants"])
    assert constants["c_max"]["status"] in ("found", "above-grid")


def test_the_sharp_eps_a_scan_ran_with_is_stored_with_its_constants(tmp_path):
    out = tmp_path / "p.h5"
    assert run_cli(*TINY, "--sharp-eps", "0.25", "--out", str(out)).exit_code == 0
    [scan] = load(out)["scans"].values()
    assert scan["sharp_eps"] == 0.25 and scan["complete"]


def test_a_file_from_other_settings_is_named_when_a_study_goes_beside_it(tmp_path):
    """After an upgrade adds an estimator option, --resume finds none of its scans: say so and
    name the option, instead of silently starting over."""
    out = tmp_path / "p.h5"
    assert run_cli(*TINY, "--out", str(out)).exit_code == 0
    with h5py.File(out, "a") as f:  # as written before the estimator had a 'start' option
        f.attrs["schema_version"] = 1  # (and before records carried checksums)
        for scan in f["scans"].values():
            config = json.loads(scan.attrs["config"])
            del config["estimator"]["options"]["start"]
            scan.attrs["config"] = json.dumps(config)
            del scan.attrs["checksum"]
    resumed = run_cli(*TINY, "--out", str(out), "--resume")
    assert resumed.exit_code == 0, resumed.output
    text = " ".join(resumed.output.split())
    assert "holds 1 scan made with other settings" in text
    assert "estimator.options.start" in text
    same_study = tmp_path / "q.h5"  # other seeds of the same settings: no note
    assert run_cli(*TINY, "--out", str(same_study)).exit_code == 0
    more = run_cli(*TINY, "--seeds", "1,", "--out", str(same_study))  # seed 1 only
    assert more.exit_code == 0 and "other settings" not in more.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--c", "inf"], "--c must be positive and at most 2^20"),
        (["--c", "1e308"], "--c must be positive and at most 2^20"),
        (["--x-max", "inf"], "--x-max must be a finite number, got inf"),
        (["--x-min", "nan"], "--x-min must be a finite number, got nan"),
        (["--x-step", "1e-9"], "gives 6000000001 values of c, more than 10000; pass a larger"),
        (["--divergence-threshold", "inf"], "--divergence-threshold must be a positive finite"),
        (["--tol", "nan"], "estimator 'lanczos': tol must be >= 0, got nan"),
        (["--search", "bisect", "--bisect-tol", "nan"], "--bisect-tol must be a number from"),
        (["--seeds", "9223372036854775808,"], "--seeds 9223372036854775808 is out of range"),
        (["--seeds", ","], "--seeds ',' names no seed"),
        (["--seeds", "99999999999999999999"], "asks for more than 10000 seeds"),
        (["--sharp-eps", "-1"], "--sharp-eps must be a number >= 0"),
    ],
)
def test_hostile_values_are_one_line_exit_2_and_no_file(tmp_path, monkeypatch, args, message):
    """Issue 13 #9 and #11: each of these was a traceback, a hang, or exit 0 on main."""
    monkeypatch.chdir(tmp_path)
    result = run_cli(*TINY, *args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0]
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


BUILD_RAISES = """
from phasebench import hookimpl


@hookimpl
def register_models(register):
    register("fragile", "fragile_build:build", description="breaks at width 13",
             defaults={"depth": 2, "width": 8})


def build(input_shape, num_outputs, depth=2, width=8):
    if width == 13:
        raise RuntimeError("width 13 is unlucky")
    from phasebench_builtins.models.fcn import build as fcn

    return fcn(input_shape, num_outputs, depth=depth, width=width, activation="relu", bias=False)
"""


def test_a_component_whose_build_raises_is_one_line_naming_it(
    tmp_path, add_entry_points, plugin_module
):
    """main: about 50 lines of traceback, after the file was created; no plugin named."""
    plugin_module("fragile_build", BUILD_RAISES)
    add_entry_points(("fragile", "fragile_build"))
    out = tmp_path / "x.h5"
    result = run_cli("--model", "fragile", "--width", "13", "--out", str(out))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: model 'fragile' (plugin 'fragile') raised RuntimeError")
    assert "width 13 is unlucky" in lines[0] and not out.exists()


def test_the_phase_table_is_the_new_points_after_appending_to_another(tmp_path):
    """main printed the first point of the file, which was another setting's."""
    out = tmp_path / "p.h5"
    small = [a if a != "16" else "8" for a in TINY]
    assert run_cli(*small, "--c", "1,2", "--out", str(out)).exit_code == 0
    result = run_cli(*TINY, "--c", "4", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = result.output[result.output.index("phases of seed") : result.output.index("critical")]
    rows = [line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│")]
    assert rows == ["4"]
