"""`phasebench trace`, `sweep --trace` and `show` of traces, end to end."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from phasebench.cli.main import app
from phasebench.results import load

TINY = [
    "--model",
    "fcn",
    "--depth",
    "2",
    "--width",
    "8",
    "--dataset",
    "gaussian",
    "--n-train",
    "128",
    "--n-test",
    "8",
    "--dim",
    "6",
    "--classes",
    "4",
    "--sharpness-examples",
    "64",
    "--loss-examples",
    "64",
    "--batch-size",
    "32",
]
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_full_batch_traces_of_each_c_and_show_summarizes_them(tmp_path):
    out = tmp_path / "t.h5"
    args = ["trace", *TINY, "--steps", "20", "--every", "10", "--c", "0.5,1", "--out", str(out)]
    args += ["--batch-size", "full", "--train-examples", "40"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "trace c=0.5 seed 0 sgd 0: step 20/20" in result.output  # progress lines
    traces = load(out).traces
    assert sorted(t.c for t in traces) == [0.5, 1.0]
    assert all(t.measured_step.tolist() == [0, 10, 20] for t in traces)
    assert all(t.config["full_batch"] and t.config["train_examples"] == 40 for t in traces)
    shown = invoke("show", str(out))
    assert shown.exit_code == 0, shown.output
    assert shown.output.count("20 steps; final loss") == 2
    assert "threshold" in shown.output and "(2/eta)" in shown.output
    assert shown.output.count("regimes: ") == 2
    as_json = json.loads(invoke("show", "--json", str(out)).output)
    assert {t["c"] for t in as_json["traces"]} == {0.5, 1.0}
    again = invoke(*args, "--resume")
    assert again.exit_code == 0 and "2 finished traces skipped" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--steps", "10", "--every", "20"], "--every must be between 1 and steps (10)"),
        (["--model", "fcnn"], "unknown model 'fcnn'"),
        (["--batch-size", "lots"], "--batch-size 'lots' is not a number or full"),
        (["--train-examples", "100000"], "--train-examples 100000 is larger"),
        (
            ["--steps", "10", "--every", "5", "--schedule", "linear", "--warmup-steps", "50"],
            "longer than the run",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_before_any_file(tmp_path, args, message):
    out = tmp_path / "sub" / "bad.h5"
    result = invoke("trace", *TINY, *args, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.parent.exists()


def test_sweep_trace_on_the_local_executor(tmp_path):
    out = tmp_path / "sweep.h5"
    result = invoke(
        "sweep", "--trace", *TINY, "--depths", "2,3", "--widths", "8", "--steps", "10",
        "--every", "5", "--executor", "local", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    traces = load(out).traces
    assert sorted(t.config["model"]["options"]["depth"] for t in traces) == [2, 3]
    assert "2 traces done" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["process", "dask"])
def test_sweep_trace_on_other_executors(tmp_path, executor):
    out = tmp_path / f"{executor}.h5"
    result = invoke(
        "sweep", "--trace", *TINY, "--depths", "2,3", "--widths", "8", "--steps", "10",
        "--every", "5", "--executor", executor, "--workers", "2", "--c", "0.5,1",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    traces = load(out).traces
    assert len(traces) == 4 and all(t.finished for t in traces)
