"""Tidy tables of a results file (``phasebench.results.to_pandas`` / ``to_xarray``) and
``phasebench export``: every table read back with pandas / xarray and compared with
``phasebench.results.load`` on the real a7147a9 files in tests/data."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from phasebench.analysis.phases import NAMES, STATUSES
from phasebench.cli.main import app
from phasebench.extras import MissingExtraError
from phasebench.results import load, to_pandas, to_xarray
from phasebench.results.summary import scan_summaries

pd = pytest.importorskip("pandas")
xr = pytest.importorskip("xarray")

DATA = Path(__file__).parent / "data"
FULL = DATA / "main-a7147a9.h5"  # two complete scans; seed 0 diverges at c = 100
PARTIAL = DATA / "main-a7147a9-partial.h5"  # one incomplete scan of four runs
runner = CliRunner()


def _runs(loaded):
    return {
        rid: (sid, run)
        for sid, scan in loaded["scans"].items()
        for rid, run in scan["runs"].items()
    }


def test_runs_table_has_one_row_per_run_with_its_config_and_its_scans_constants():
    loaded = load(FULL)
    df = to_pandas(FULL, "runs")
    stored = _runs(loaded)
    assert sorted(df["run_id"]) == sorted(stored) and len(df) == 8
    summaries = {s.scan_id: s for s in scan_summaries(loaded)}
    for row in df.to_dict("records"):
        scan_id, run = stored[row["run_id"]]
        scan = loaded["scans"][scan_id]
        assert row["scan_id"] == scan_id and row["point_id"] == scan["point_id"]
        assert row["c"] == run["c"] and row["eta"] == run["eta"]
        assert row["diverged"] == run["diverged"] and row["diverged_step"] == run["diverged_step"]
        assert row["lambda0"] == scan["lambda0"] and row["L0"] == scan["loss0"]
        assert row["seed"] == run["config"]["seed"]
        model = run["config"]["model"]
        assert row["model"] == model["name"] and row["model.depth"] == model["options"]["depth"]
        assert row["estimator.tol"] == run["config"]["estimator"]["options"]["tol"]
        for name in NAMES:
            constant = summaries[scan_id].constants[name]
            assert row[f"{name}_status"] == constant.status
            assert _same(row[name], constant.value)
            assert _same(row[f"{name}_lower_bound"], constant.lower_bound)
    diverged = df[df["diverged"]]
    assert list(diverged["c"]) == [100.0] and list(diverged["phase"]) == ["divergence"]


def _same(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_steps_table_is_every_runs_arrays_one_row_per_step():
    loaded = load(FULL)
    df = to_pandas(loaded, "steps")
    stored = _runs(loaded)
    assert len(df) == sum(run["loss"].size for _, run in stored.values())
    for run_id, rows in df.groupby("run_id"):
        run = stored[run_id][1]
        rows = rows.sort_values("step")
        assert list(rows["step"]) == list(range(run["loss"].size))
        np.testing.assert_array_equal(rows["loss"], run["loss"])
        np.testing.assert_array_equal(rows["sharpness"], run["sharpness"])
        np.testing.assert_array_equal(rows["hvps"], run["hvps"])
        np.testing.assert_array_equal(rows["converged"], run["converged"])
        # batch_loss at t is the minibatch loss of the step t -> t+1; the last state takes none
        np.testing.assert_array_equal(rows["batch_loss"].iloc[:-1], run["batch_loss"])
        assert math.isnan(rows["batch_loss"].iloc[-1])


def test_constants_keep_statuses_and_lower_bounds_and_points_count_them():
    df = to_pandas(FULL, "constants")
    assert len(df) == 2 * len(NAMES) and set(df["status"]) <= set(STATUSES)
    bound = df[(df["seed"] == 1) & (df["constant"] == "c_max")].iloc[0]
    # seed 1 never diverged on its grid (c <= 100): c_max is a lower bound, not a value
    assert bound["status"] == "above-grid" and bound["lower_bound"] == 100.0
    catapult = df[(df["seed"] == 0) & (df["constant"] == "c_loss")].iloc[0]
    assert catapult["status"] == "not-before-divergence" and math.isnan(catapult["value"])
    points = to_pandas(FULL, "points").set_index("constant")
    assert points.loc["c_max", "of"] == 2 and points.loc["c_max", "n_found"] == 1
    assert points.loc["c_max", "n_above_grid"] == 1 and points.loc["c_max", "lower_bound"] == 100
    partial = to_pandas(PARTIAL, "constants")
    assert set(partial["source"]) == {"provisional"} and not partial["complete"].any()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_a_table_reads_back_as_the_loaded_file(tmp_path, fmt):
    out = tmp_path / f"steps.{fmt}"
    result = runner.invoke(app, ["export", str(FULL), "--table", "steps", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    back = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    expected = to_pandas(FULL, "steps")
    assert list(back.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


def test_to_xarray_labels_point_seed_c_and_step():
    loaded = load(FULL)
    ds = to_xarray(FULL)
    assert {"point", "seed", "sgd_seed", "c", "step"} <= set(ds.dims)
    assert list(ds["c"].values) == [1.0, 2.0, 4.0, 100.0] and list(ds["seed"].values) == [0, 1]
    for scan in loaded["scans"].values():
        here = {"point": scan["point_id"], "seed": scan["seed"], "sgd_seed": scan["sgd_seed"]}
        assert float(ds["lambda0"].sel(here)) == scan["lambda0"]
        for run in scan["runs"].values():
            at = {**here, "c": run["c"]}
            np.testing.assert_array_equal(ds["loss"].sel(at), run["loss"])
            np.testing.assert_array_equal(ds["sharpness"].sel(at), run["sharpness"])
            assert float(ds["eta"].sel(at)) == run["eta"]
    assert ds["config.model.depth"].values.tolist() == [2]
    assert str(ds["c_max_status"].sel(seed=1).item()) == "above-grid"
    assert float(ds["c_max_lower_bound"].sel(seed=1).item()) == 100.0


@pytest.mark.slow  # xarray's netCDF backends and h5netcdf import for seconds
def test_export_netcdf_reads_back_identical_to_to_xarray(tmp_path):
    pytest.importorskip("h5netcdf")
    ds = to_xarray(FULL)
    copy = tmp_path / "probe.h5"
    shutil.copy(FULL, copy)
    result = runner.invoke(app, ["export", str(copy), "--format", "netcdf"])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(tmp_path / "probe-dataset.nc", engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), ds)


def test_export_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path):
    cases = [
        (["--table", "nope"], "unknown --table 'nope'"),
        (["--format", "xlsx"], "unknown --format 'xlsx'"),
        (["--format", "netcdf", "--table", "runs"], "--table is for csv and parquet"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["export", str(FULL), *args, "--out", str(tmp_path / "x")])
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    missing = runner.invoke(app, ["export", str(tmp_path / "none.h5")])
    assert missing.exit_code == 2 and "no such results file" in missing.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("module", "args", "extra"),
    [
        ("pandas", ["--table", "runs"], "pandas"),
        ("pyarrow", ["--format", "parquet"], "parquet"),
        ("xarray", ["--format", "netcdf"], "xarray"),
    ],
)
def test_a_missing_library_is_one_line_naming_its_extra(tmp_path, monkeypatch, module, args, extra):
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    result = runner.invoke(app, ["export", str(FULL), *args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert f"pip install 'phasebench[{extra}]'" in result.output
    assert len(result.output.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_to_pandas_without_pandas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(
        MissingExtraError, match=r"to_pandas needs pandas: pip install 'phasebench\[pandas\]'"
    ):
        to_pandas(FULL)


def test_phasebench_trace_returns_its_traces_and_their_tables(tmp_path):
    """The notebook API's trace runs the trace pipeline; the export reads its records back."""
    import phasebench

    results = phasebench.trace(
        model="uv",
        model_options={"width": 16},
        dataset="single-example",
        dataset_options={"y": 2.0},
        init="lecun",
        full_batch=True,
        sharpness_examples=1,
        loss_examples=1,
        dtype="float64",
        c=[0.5, 1.0],
        steps=30,
        every=5,
        density_steps=(0, 12),  # 12: not a measured step, taken on its own
        density_probes=2,
        density_lanczos=4,
        out=str(tmp_path / "t.h5"),
        loggers=["jsonl"],
    )
    traces = sorted(results.traces, key=lambda t: t.c)
    assert [t.c for t in traces] == [0.5, 1.0] and all(t.finished for t in traces)
    table = results.to_pandas("traces").sort_values("c")
    assert table["trace_id"].tolist() == [t.trace_id for t in traces]
    assert table["model.width"].tolist() == [16, 16] and table["dataset.y"].tolist() == [2.0, 2.0]
    steps = results.to_pandas("trace_steps")
    assert len(steps) == sum(len(t.measured_step) for t in traces) == 14
    first = steps[steps.trace_id == traces[0].trace_id].sort_values("step")
    np.testing.assert_array_equal(first["loss"], traces[0].loss)
    np.testing.assert_allclose(first["ratio"], traces[0].sharpness[:, 0] / traces[0].threshold)
    assert all(t.density_step.tolist() == [0, 12] for t in traces)
    densities = results.to_pandas("trace_densities")
    assert len(densities) == sum(int((t.density_weights > 0).sum()) for t in traces)
    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    assert [line.split('"record": ')[1].split('"')[1] for line in lines].count("trace") == 2
    from phasebench.errors import ParameterError

    with pytest.raises(ParameterError, match="trace takes no x_max"):  # the probe's grid
        phasebench.trace(model="uv", x_max=3.0, out=str(tmp_path / "never.h5"))
    assert not (tmp_path / "never.h5").exists()
