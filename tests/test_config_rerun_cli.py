"""Configuration files, exact reruns and sweeps over any option from the command line (issue
17): ``--config`` under the flags, ``show --config`` and ``run --config`` round trip to the
same run ids, ``run --rerun`` remakes a file's scans, ``--axis`` and ``plot --x``; bad input is
one line and exit 2 before any file."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from phasebench.cli.main import app
from phasebench.plotting.files import plan
from phasebench.results import load

TINY = [
    "--dataset", "gaussian", "--n-train", "48", "--n-test", "8", "--dim", "4", "--classes", "3",
    "--depth", "2", "--width", "4", "--batch-size", "8",
    "--sharpness-examples", "16", "--loss-examples", "16", "--c", "2", "--steps", "1",
]  # fmt: skip
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def run_ids(path) -> dict[str, list[str]]:
    return {scan_id: sorted(scan["runs"]) for scan_id, scan in load(path)["scans"].items()}


def refused(result, words: str) -> None:
    assert result.exit_code == 2, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1, result.output


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A sweep over the batch size and the initialization: four points."""
    path = tmp_path_factory.mktemp("swept") / "s.h5"
    result = invoke(
        "sweep", *TINY, "--axis", "batch_size=8,16", "--axis", "init=he,zero-last",
        "--executor", "local", "--out", str(path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return path


def test_axes_make_every_combination_and_plot_draws_against_one(swept, tmp_path):
    configs = [scan["config"] for scan in load(swept)["scans"].values()]
    assert {(c["batch_size"], c["init"]["name"]) for c in configs} == {
        (b, i) for b in (8, 16) for i in ("he", "zero-last")
    }
    figures = dict(plan(load(swept), x="batch_size"))
    diagrams = [name for name in figures if name.startswith("phase-diagram-against-batch-size")]
    assert len(diagrams) == 2  # one per initialization
    ax = figures[diagrams[0]]().axes[0]
    assert ax.get_xlabel() == "batch_size"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "16"]
    refused(
        invoke("plot", str(swept), "--x", "colour", "--out-dir", str(tmp_path / "no")), "--x colour"
    )
    assert not (tmp_path / "no").exists()


def test_show_config_then_run_config_makes_the_same_run_ids(swept, tmp_path):
    scan_id = sorted(run_ids(swept))[0]
    shown = invoke("show", str(swept), "--config", "--scan", scan_id[:6])
    assert shown.exit_code == 0, shown.output
    config = tmp_path / "scan.toml"
    config.write_text(shown.output)
    again = tmp_path / "again.h5"
    result = invoke("run", "--config", str(config), "--out", str(again))
    assert result.exit_code == 0, result.output
    assert run_ids(again) == {scan_id: run_ids(swept)[scan_id]}
    refused(invoke("show", str(swept), "--config"), "holds 4 scans; pick one with --scan")


def test_rerun_remakes_every_scan_exactly(swept, tmp_path):
    out = tmp_path / "rerun.h5"
    result = invoke("run", "--rerun", str(swept), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert run_ids(out) == run_ids(swept)
    refused(invoke("run", "--rerun", str(swept), "--model", "uv"), "drop --model")
    refused(invoke("run", "--rerun", str(swept), "--scan", "zz"), "no scan 'zz'")


def test_the_command_line_overrides_the_file_and_unknown_keys_are_refused(tmp_path):
    config = tmp_path / "p.toml"
    out = tmp_path / "never.h5"
    config.write_text("steps = 0\n")  # read: the file's value is checked
    refused(invoke("run", *TINY[:-2], "--config", str(config), "--out", str(out)), "--steps")
    config.write_text("steps = 1\n[model_options]\nwidth = 4\n")
    # the flag wins over the file, for the protocol and for a component option alike
    refused(
        invoke("run", *TINY, "--config", str(config), "--steps", "0", "--out", str(out)), "--steps"
    )
    refused(invoke("run", "--config", str(config), "--width", "0", "--out", str(out)), "width")
    config.write_text("batchsize = 8\n")
    refused(invoke("run", "--config", str(config), "--out", str(out)), "unknown key 'batchsize'")
    config.write_text("steps = [\n")
    refused(invoke("run", "--config", str(config), "--out", str(out)), "is not valid TOML")
    config.write_text("axes = { batch_size = [8] }\n")
    refused(invoke("run", "--config", str(config), "--out", str(out)), "unknown key 'axes'")
    assert not out.exists()


@pytest.mark.parametrize(
    ("axis", "words"),
    [
        ("batch_siz=8", "unknown axis 'batch_siz'"),
        ("batch_size=8,x", "--axis batch_size: 'x' is not an integer"),
        ("model.width=a", "width must be a positive integer, got 'a'"),
        ("model.colour=1", "model 'fcn' has no option 'colour'"),
        ("batch_size", "must look like KEY=V1,V2"),
    ],
)
def test_a_bad_axis_is_one_line_before_any_file(axis, words, tmp_path):
    out = tmp_path / "never.h5"
    refused(invoke("sweep", *TINY, "--axis", axis, "--executor", "local", "--out", str(out)), words)
    assert not out.exists()


def test_a_sweep_file_holds_axes_and_its_bad_axis_is_refused(tmp_path):
    config = tmp_path / "sweep.toml"
    out = tmp_path / "never.h5"
    config.write_text('executor = "local"\n[axes]\n"model.colour" = [1, 2]\n')
    refused(
        invoke("sweep", *TINY, "--config", str(config), "--out", str(out)), "no option 'colour'"
    )
    config.write_text('executor = "local"\nwidths = [0]\n')  # --widths from a file is an axis too
    refused(invoke("sweep", *TINY, "--config", str(config), "--out", str(out)), "width must be")
    assert not out.exists()


def test_a_config_file_chooses_loggers_and_a_bad_choice_is_one_line(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text('loggers = ["jsonl"]\n')
    done = invoke("run", *TINY, "--config", str(config), "--out", str(tmp_path / "r.h5"))
    assert done.exit_code == 0, done.output
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert lines[0].startswith('{"record": "start"') and lines[-1] == '{"record": "end"}'
    elsewhere = tmp_path / "elsewhere.jsonl"
    config.write_text(f'[loggers.jsonl]\npath = "{elsewhere}"\n')
    done = invoke("run", *TINY, "--config", str(config), "--out", str(tmp_path / "s.h5"))
    assert done.exit_code == 0, done.output
    assert elsewhere.exists() and not (tmp_path / "s.jsonl").exists()
    config.write_text("loggers = 3\n")
    out = tmp_path / "never.h5"
    refused(invoke("run", *TINY, "--config", str(config), "--out", str(out)), "loggers must be")
    assert not out.exists()
