"""The results store: records round-trip exactly through the schema-driven writer and reader,
the stored constants are what show, plot and the API read, lower bounds stay bounds in every
aggregate, and files written by a7147a9 still load, show, plot and resume."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from plotting_results import ScanSpec, config_for, write_results
from typer.testing import CliRunner

from phasebench.analysis.phases import NAMES, Constant
from phasebench.cli.main import app
from phasebench.plotting import point_views
from phasebench.results import load, run_record, scan_record, schema
from phasebench.results.records import RunRecord, ScanRecord
from phasebench.results.writer import ResultsWriter

DATA = Path(__file__).parent / "data"
FULL = DATA / "main-a7147a9.h5"
PARTIAL = DATA / "main-a7147a9-partial.h5"
#: tests/data/README.md: the arguments the a7147a9 files were written with
A7147A9_ARGS = [
    "--depth",
    "2",
    "--width",
    "16",
    "--steps",
    "3",
    "--sharpness-examples",
    "256",
    "--loss-examples",
    "256",
    "--batch-size",
    "64",
]
runner = CliRunner()
WIDE = {"COLUMNS": "250"}


# -- records round-trip --------------------------------------------------------------------------
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
names = st.text("0123456789abcdef", min_size=16, max_size=16)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | floats | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
configs = st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=4).map(
    lambda d: {**d, "seed": 3, "sgd_seed": 1}
)


def arrays(dtype, size=st.integers(0, 6)):
    return size.flatmap(lambda n: hnp.arrays(dtype, n))


run_records = st.builds(
    RunRecord,
    run_id=names,
    scan_id=names,
    config=configs,
    c=floats,
    eta=floats,
    loss=arrays(np.float64),
    batch_loss=arrays(np.float64),
    sharpness=arrays(np.float64),
    hvps=arrays(np.int64),
    converged=arrays(np.bool_),
    barrier_tau=arrays(np.float64),
    barrier_loss=arrays(np.float64),
    diverged=st.booleans(),
    diverged_step=st.integers(-1, 100),
    seconds=floats,
    sharpness_seconds=floats,
    provenance=st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=3),
)
scan_records = st.builds(
    ScanRecord,
    scan_id=names,
    point_id=names,
    config=configs,
    lambda0=floats,
    loss0=floats,
    lambda0_hvps=st.integers(0, 10**9),
    lambda0_converged=st.booleans(),
    lambda0_seconds=floats,
)


def same(a, b) -> bool:
    """Equal field by field, nan equal to nan, arrays by dtype and value."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
        elif json.dumps(x, sort_keys=True) != json.dumps(y, sort_keys=True) or type(x) is not type(
            y
        ):
            return False
    return True


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scan=scan_records, run=run_records)
def test_records_round_trip_exactly(tmp_path_factory, scan, run):
    path = tmp_path_factory.mktemp("rt") / "r.h5"
    run = dataclasses.replace(run, scan_id=scan.scan_id)
    writer = ResultsWriter(path)
    writer.write_scan(scan)
    writer.write_run(run)
    loaded = load(path)
    stored = loaded["scans"][scan.scan_id]
    assert same(scan_record(scan.scan_id, stored), scan)
    assert same(run_record(run.run_id, scan.scan_id, stored["runs"][run.run_id]), run)


def test_the_schema_is_the_records_fields_and_the_file_holds_exactly_them(tmp_path):
    path = write_results(tmp_path / "r.h5", [(config_for(2, 64, 0), ScanSpec(c_div=4.0))])
    record_fields = {f.name for f in dataclasses.fields(RunRecord)}
    assert (
        set(schema.RUN_ARRAYS)
        | set(schema.RUN_SCALARS)
        | set(schema.RUN_JSON)
        | {
            "run_id",
            "scan_id",
        }
        == record_fields
    )
    with h5py.File(path, "r") as f:
        (scan,) = f["scans"].values()
        run = next(iter(scan["runs"].values()))
        assert set(run) == set(schema.RUN_ARRAYS)
        assert set(run.attrs) == {*schema.RUN_SCALARS, *schema.RUN_JSON, schema.CHECKSUM}
        assert set(scan.attrs) == {
            *schema.SCAN_SCALARS,
            *schema.names(schema.SCAN_FIELDS, "json"),
            *schema.SCAN_DERIVED,
            *schema.SCAN_COMPLETION,
            schema.CHECKSUM,
        }
        assert f.attrs["schema_version"] == schema.SCHEMA_VERSION


# -- stored constants are what is read ---------------------------------------------------------
def test_show_reads_the_stored_constants_and_recomputes_only_when_asked(tmp_path):
    config = config_for(2, 64, 0)
    path = write_results(tmp_path / "r.h5", [(config, ScanSpec(c_loss=2.0, c_div=8.0))])
    (scan_id,) = load(path)["scans"]
    stored = {n: Constant(math.nan, "no-runs") for n in NAMES} | {"c_loss": Constant(3.5, "found")}
    ResultsWriter(path).complete_scan(scan_id, stored, sharp_eps=0.0)  # a scan that stored 3.5
    shown = json.loads(runner.invoke(app, ["show", str(path), "--json"]).output)
    scan = shown["points"][0]["scans"][0]
    assert scan["constants"]["c_loss"] == {"value": 3.5, "status": "found"}
    assert scan["constants_from"] == "stored"
    recomputed = json.loads(
        runner.invoke(app, ["show", str(path), "--json", "--sharp-eps", "0"]).output
    )
    scan = recomputed["points"][0]["scans"][0]
    assert scan["constants"]["c_loss"] == {"value": 2.0, "status": "found"}
    assert scan["constants_from"] == "recomputed"
    (view,) = point_views(load(path))
    assert view.constants["c_loss"].mean == 3.5  # the figures read the stored value too


def test_lower_bounds_stay_bounds_in_the_all_row_json_and_figures(tmp_path):
    """Three seeds: two never diverge on the grid (c_max >= 16), one diverges at 11.3."""
    config = config_for(2, 64, 0)
    specs = [
        ScanSpec(c_loss=2.0, seed=0),
        ScanSpec(c_loss=2.0, seed=1),
        ScanSpec(c_loss=2.0, c_div=11.0, seed=2),
    ]
    path = write_results(tmp_path / "b.h5", [(config, s) for s in specs])
    result = runner.invoke(app, ["show", str(path)], env=WIDE)
    assert result.exit_code == 0, result.output
    (all_row,) = [line for line in result.output.splitlines() if " all " in line]
    assert ">= 16 (2 of 3 seeds)" in all_row and "undetermined" not in all_row.split("│")[-2]
    # c_sharp never catapults: above the grid in the two stable seeds, a bound too
    shown = json.loads(runner.invoke(app, ["show", str(path), "--json"]).output)
    c_max = shown["points"][0]["constants"]["c_max"]
    assert c_max["n"] == 1 and c_max["lower_bound"] == 16.0 and c_max["bounds"] == 2
    (view,) = point_views(load(path))
    assert view.constants["c_max"].lower_bound == 16.0
    # only bounds: the "all" row still says ">=", never "undetermined"
    path = write_results(tmp_path / "only.h5", [(config, s) for s in specs[:2]])
    result = runner.invoke(app, ["show", str(path)], env=WIDE)
    (all_row,) = [line for line in result.output.splitlines() if " all " in line]
    assert all_row.split("│")[-2].strip() == ">= 16 (2 of 2 seeds)"


# -- files written by a7147a9 ---------------------------------------------------------------------
def test_a7147a9_files_load_show_and_plot(tmp_path):
    for source in (FULL, PARTIAL):
        path = tmp_path / source.name
        shutil.copy(source, path)
        loaded = load(path)
        assert loaded["attrs"]["schema_version"] == 1 and loaded["scans"]
        shown = runner.invoke(app, ["show", str(path)], env=WIDE)
        assert shown.exit_code == 0, shown.output
        data = json.loads(runner.invoke(app, ["show", str(path), "--json"]).output)
        plotted = runner.invoke(app, ["plot", str(path), "--out-dir", str(tmp_path / source.stem)])
        assert plotted.exit_code == 0, plotted.output
        assert all(Path(p).stat().st_size > 10_000 for p in plotted.output.split())
        if source is FULL:
            scans = {s["seed"]: s for s in data["points"][0]["scans"]}
            stored = {
                json.loads(s["config"])["seed"]: json.loads(s["constants"])
                for s in (dict(g.attrs) for g in h5py.File(path, "r")["scans"].values())
            }
            for seed, scan in scans.items():  # exactly what a7147a9 stored
                assert scan["constants_from"] == "stored"
                for name in NAMES:
                    assert scan["constants"][name]["value"] == stored[seed][name]["value"]
                    assert scan["constants"][name]["status"] == stored[seed][name]["status"]


def test_a7147a9_partial_file_resumes_without_repeating_a_run_and_full_one_is_skipped(tmp_path):
    partial = tmp_path / "partial.h5"
    shutil.copy(PARTIAL, partial)
    before = load(partial)
    (scan_id,) = before["scans"]
    old_runs = before["scans"][scan_id]["runs"]
    args = ["run", *A7147A9_ARGS, "--c", "1,1.5,2,3,4,6", "--seeds", "1", "--out", str(partial)]
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    after = load(partial)["scans"][scan_id]
    assert after["complete"] and set(old_runs) <= set(after["runs"])
    for run_id, run in old_runs.items():  # the four stored runs were kept, not recomputed
        np.testing.assert_array_equal(after["runs"][run_id]["loss"], run["loss"])
        assert after["runs"][run_id]["provenance"] == run["provenance"]
    assert after["lambda0"] == before["scans"][scan_id]["lambda0"]
    cs = sorted(r["c"] for r in after["runs"].values())
    assert cs == sorted(set(cs)) and cs[: len(old_runs)] == sorted(
        r["c"] for r in old_runs.values()
    )

    full = tmp_path / "full.h5"
    shutil.copy(FULL, full)
    args = ["run", *A7147A9_ARGS, "--c", "1,2,4,100", "--seeds", "2", "--out", str(full)]
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert "2 complete scans already" in result.output
    assert {k: len(s["runs"]) for k, s in load(full)["scans"].items()} == {
        k: len(s["runs"]) for k, s in load(FULL)["scans"].items()
    }
