"""``phasebench show`` and ``phasebench plot`` on synthetic results files with known constants
(written without the probe), their errors, and that neither imports torch."""

from __future__ import annotations

import json
import subprocess
import sys

from plotting_results import ScanSpec, config_for, write_results
from typer.testing import CliRunner

from phasebench.analysis.phases import NAMES
from phasebench.cli.main import app
from phasebench.results.writer import ResultsWriter

runner = CliRunner()
WIDE = {"COLUMNS": "250"}  # Rich folds table cells at the default 80 columns


def constants_rows(out: str) -> dict[str, dict[str, str]]:
    """The constants table's rows by seed ("all" for the aggregate), as column -> cell."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "┃" in line and "c_loss" in line)
    header = [cell.strip() for cell in lines[start].split("┃")[1:-1]]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("│"):
            break
        cells = dict(zip(header, (c.strip() for c in line.split("│")[1:-1]), strict=True))
        rows[cells["seed"]] = cells
    return rows


def two_seed_file(tmp_path, sharp_eps: float = 0.0):
    """Seed 0: c_loss 2, c_sharp 4 (2.83 with eps = 0: a 3% rise from there), c_barrier 5.66,
    c_max 8. Seed 1: c_loss 2.83, no sharpness catapult before it diverges at 5.66."""
    config = config_for(2, 64, 0)
    return write_results(
        tmp_path / "r.h5",
        [
            (
                config,
                ScanSpec(
                    c_loss=2.0, c_sharp=4.0, c_sharp_soft=2.5, c_barrier=5.0, c_div=10.0, seed=0
                ),
            ),
            (config, ScanSpec(c_loss=2.5, c_div=5.0, seed=1, lambda0=40.0, loss0=0.25)),
        ],
        sharp_eps=sharp_eps,
    )


def test_show_prints_phases_and_the_constants_of_every_seed(tmp_path):
    path = two_seed_file(tmp_path)
    ResultsWriter(path).write_failure("task-7", {"seed": 2}, "RuntimeError: boom", 3)
    result = runner.invoke(app, ["show", str(path)], env=WIDE)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "fcn(depth=2,width=64) he mse sgd on fashion-mnist-subset" in out
    assert "phases of seed 0, sgd seed 0" in out and "divergence" in out
    rows = constants_rows(out)
    assert {k: rows["0"][k] for k in ("lambda0", "L0", *NAMES)} == {
        "lambda0": "20",
        "L0": "0.5",
        "c_loss": "2",
        "c_sharp": "2.83",
        "c_barrier": "5.66",
        "c_max": "8",
    }
    assert {k: rows["1"][k] for k in ("lambda0", "L0", *NAMES)} == {
        "lambda0": "40",
        "L0": "0.25",
        "c_loss": "2.83",
        "c_sharp": "div",
        "c_barrier": "4",
        "c_max": "4",
    }
    assert rows["all"]["c_loss"].startswith("2.41 ± 0.41")
    assert rows["all"]["c_sharp"].endswith("(1/2)")  # one seed of two determined it
    assert "failed task-7 after 3 attempt(s): RuntimeError: boom" in out


def test_show_json_has_constants_statuses_and_aggregates(tmp_path):
    path = two_seed_file(tmp_path)
    result = runner.invoke(app, ["show", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (point,) = data["points"]
    by_seed = {scan["seed"]: scan["constants"] for scan in point["scans"]}
    assert by_seed[0]["c_sharp"] == {"value": 2.0**1.5, "status": "found"}
    assert by_seed[1]["c_sharp"] == {"value": None, "status": "not-before-divergence"}
    assert by_seed[1]["c_max"] == {"value": 4.0, "status": "found"}
    assert point["constants"]["c_sharp"] == {
        "mean": 2.0**1.5,
        "std": 0.0,
        "min": 2.0**1.5,
        "max": 2.0**1.5,
        "n": 1,
        "of": 2,
    }
    assert point["constants"]["c_loss"]["mean"] == (2.0 + 2.0**1.5) / 2
    assert point["lambda0"]["mean"] == 30.0
    runs = point["scans"][1]["runs"]
    assert [r["diverged"] for r in runs][-1] is True and runs[-1]["c"] == 2.0**2.5
    # --sharp-eps 0.05 ignores the 3% rise: c_sharp of seed 0 moves to 4
    again = json.loads(
        runner.invoke(app, ["show", str(path), "--json", "--sharp-eps", "0.05"]).output
    )
    assert again["sharp_eps"] == 0.05
    assert again["points"][0]["scans"][0]["constants"]["c_sharp"]["value"] == 4.0


def test_show_and_plot_fail_cleanly_on_bad_files(tmp_path):
    (tmp_path / "foreign.h5").write_bytes(b"not hdf5")
    ResultsWriter(tmp_path / "empty.h5")
    for args, message in (
        (["show", str(tmp_path / "missing.h5")], "no such results file"),
        (["plot", str(tmp_path / "missing.h5")], "no such results file"),
        (["show", str(tmp_path / "foreign.h5")], "not a readable HDF5 file"),
        (["plot", str(tmp_path / "empty.h5")], "no finished runs"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    result = runner.invoke(app, ["show", str(tmp_path / "empty.h5")])
    assert result.exit_code == 0 and "no scans yet" in result.output


SCRIPT = """
import sys
from typer.testing import CliRunner
from phasebench.cli.main import app
from phasebench.analysis.phases import NAMES
runner = CliRunner()
show = runner.invoke(app, ["show", sys.argv[1], "--json"])
plot = runner.invoke(app, ["plot", sys.argv[1], "--out-dir", sys.argv[2]])
assert show.exit_code == 0 and plot.exit_code == 0, (show.output, plot.output)
print(plot.output, end="")
print("torch imported:", "torch" in sys.modules)
"""


def test_show_and_plot_never_import_torch_and_plot_prints_its_pngs(tmp_path):
    path = two_seed_file(tmp_path)
    out = tmp_path / "figures"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "torch imported: False"
    written = sorted(lines[:-1])
    assert written == sorted(str(p) for p in out.iterdir())
    assert [p.rsplit("/", 1)[1].split("-")[0] for p in written] == ["phases", "trajectories"]


def test_show_uses_the_threshold_each_scan_was_run_with_unless_overridden(tmp_path):
    path = two_seed_file(tmp_path, sharp_eps=0.05)  # as if run with --sharp-eps 0.05
    shown = json.loads(runner.invoke(app, ["show", str(path), "--json"]).output)
    assert shown["sharp_eps"] is None
    scan = shown["points"][0]["scans"][0]
    assert scan["sharp_eps"] == 0.05 and scan["constants"]["c_sharp"]["value"] == 4.0
    override = json.loads(
        runner.invoke(app, ["show", str(path), "--json", "--sharp-eps", "0"]).output
    )
    scan = override["points"][0]["scans"][0]
    assert scan["sharp_eps"] == 0.0 and scan["constants"]["c_sharp"]["value"] == 2.0**1.5
