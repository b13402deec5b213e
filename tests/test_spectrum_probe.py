"""The spectrum options of ``run`` (--top-k, --critical, --density-steps), the ``spectrum``
command, their records in the results file and their figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from phasebench.cli.main import app
from phasebench.plotting import plan
from phasebench.results import load

TINY = [
    "--model",
    "fcn",
    "--depth",
    "2",
    "--width",
    "4",
    "--sharpness-examples",
    "32",
    "--loss-examples",
    "64",
    "--batch-size",
    "32",
    "--steps",
    "3",
    "--c",
    "1",
]
runner = CliRunner()
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    out = tmp_path_factory.mktemp("spectrum") / "run.h5"
    flags = ["--top-k", "3", "--critical", "--density-steps", "0,3"]
    extra = ["--density-probes", "2", "--density-lanczos", "6", "--out", str(out)]
    result = runner.invoke(app, ["run", *TINY, *flags, *extra])
    assert result.exit_code == 0, result.output
    return out, load(out)


def test_run_stores_top_k_beside_the_sharpness(measured):
    _, loaded = measured
    (scan,) = loaded["scans"].values()
    (run,) = scan["runs"].values()
    top = run["sharpness_top_k"]
    assert top.shape == (4, 3)
    np.testing.assert_array_equal(top[:, 0], run["sharpness"])  # column 0 is lambda_t
    assert (np.diff(top, axis=1) <= 0).all()  # best first
    np.testing.assert_array_equal(top[0], scan["lambda0_top_k"])


def test_run_stores_the_critical_sharpness_and_its_passes(measured):
    _, loaded = measured
    (run,) = next(iter(loaded["scans"].values()))["runs"].values()
    assert run["critical_sharpness"].shape == (4,)
    assert ((1 <= run["critical_passes"]) & (run["critical_passes"] <= 10)).all()
    good = run["critical_converged"]
    assert good.any()
    assert (run["critical_sharpness"][good] > 0).all()


def test_run_stores_densities_after_the_chosen_steps_and_plot_draws_them(measured):
    out, loaded = measured
    (run,) = next(iter(loaded["scans"].values()))["runs"].values()
    assert run["density_step"].tolist() == [0, 3]
    assert run["density_nodes"].shape == (2, 2, 6) == run["density_weights"].shape
    np.testing.assert_allclose(run["density_weights"].sum(2), 1.0, atol=1e-9)
    assert run["density_hvps"].tolist() == [12, 12]
    assert np.isfinite(run["density_trace"]).all()
    # the largest Ritz value is at most the top eigenvalue (Lanczos bounds it from below)
    top_ritz = np.nanmax(run["density_nodes"], axis=(1, 2))
    assert top_ritz[0] <= run["sharpness"][0] * (1 + 1e-4)
    names = [name for name, _ in plan(loaded)]
    densities = [name for name in names if name.startswith("density-")]
    assert len(densities) == 1
    figure = dict(plan(loaded))[densities[0]]()
    assert figure.axes[0].get_yscale() == "log"


def test_files_before_schema_3_load_with_empty_spectrum_fields():
    loaded = load(DATA / "main-a7147a9.h5")
    assert loaded["spectra"] == {}
    for scan in loaded["scans"].values():
        assert scan["lambda0_top_k"].size == 0
        for run in scan["runs"].values():
            assert run["sharpness_top_k"].shape == (0, 0) and run["critical_sharpness"].size == 0
            assert run["density_step"].size == 0 and run["density_nodes"].shape == (0, 0, 0)
    assert not [name for name, _ in plan(loaded) if name.startswith(("density-", "spectrum-"))]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--density-steps", "0,9"], "--density-steps [0, 9]"),
        (["--density-steps", "x"], "--density-steps"),
        (["--top-k", "0"], "--top-k"),
        (["--density-probes", "0"], "--density-probes"),
    ],
)
def test_bad_spectrum_options_are_one_line_exit_2_and_no_file(tmp_path, args, message):
    out = tmp_path / "bad.h5"
    result = runner.invoke(app, ["run", *TINY, *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not out.exists()


def test_spectrum_command_stores_a_density_that_plot_draws(tmp_path):
    out = tmp_path / "spectrum.h5"
    args = ["spectrum", "--model", "fcn", "--depth", "2", "--width", "4"]
    args += ["--dataset", "fashion-mnist-subset", "--examples", "32", "--probes", "3"]
    args += ["--lanczos-steps", "8", "--trace-products", "9", "--out", str(out), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    (spectrum,) = load(out)["spectra"].values()
    assert spectrum["nodes"].shape == (3, 8) and spectrum["hvps"] == 24 == summary["hvps"]
    assert spectrum["hutchpp_products"] == 9 and np.isfinite(spectrum["hutchpp_trace"])
    assert spectrum["top_eigenvalue"] == pytest.approx(np.nanmax(spectrum["nodes"]))
    plotted = runner.invoke(app, ["plot", str(out), "--out-dir", str(tmp_path / "png")])
    assert plotted.exit_code == 0, plotted.output
    assert "spectrum-" in plotted.output
    bad = runner.invoke(app, [*args[:-3], "--probes", "0", "--out", str(tmp_path / "no.h5")])
    assert bad.exit_code == 2 and "--probes" in bad.output
    assert not (tmp_path / "no.h5").exists()


def test_the_run_densities_table_has_a_row_per_stored_node(measured):
    from phasebench.results.tables import rows

    _, loaded = measured
    (run,) = next(iter(loaded["scans"].values()))["runs"].values()
    found = rows(loaded, "run_densities")
    weights = run["density_weights"]
    assert len(found) == int((weights > 0).sum()) and {r["step"] for r in found} == {0, 3}
    first = [r for r in found if r["step"] == 3 and r["probe"] == 1]
    np.testing.assert_array_equal([r["weight"] for r in first], weights[1, 1][weights[1, 1] > 0])
    assert {r["trace"] for r in first} == {run["density_trace"][1]}
