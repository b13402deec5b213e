"""phasebench.plotting on synthetic results files with known constants: the PNGs exist and are
valid, and the figures draw exactly the stored data (never an undetermined constant)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from matplotlib import colormaps
from plotting_results import ScanSpec, config_for, grid, write_results

from phasebench.errors import UsageError
from phasebench.plotting import (
    phase_diagram_figure,
    plan,
    plot_file,
    point_phase_figure,
    point_views,
    trajectory_figure,
)
from phasebench.plotting.style import TRAJECTORY_CMAP
from phasebench.results import load
from phasebench.results.writer import ResultsWriter

CS = grid()  # 1, 1.41, 2, ..., 16


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def lines_by_gid(ax, gid: str) -> list:
    """Lines whose gid is ``gid`` (or starts with it, for a gid ending in "="), leaving out
    error-bar caps."""

    def wanted(line) -> bool:
        name = line.get_gid() or ""
        return (name.startswith(gid) if gid.endswith("=") else name == gid) and (
            line.get_marker() not in ("|", "_")
        )

    return [line for line in ax.get_lines() if wanted(line)]


@pytest.fixture
def one_point(tmp_path):
    """fcn d=2 w=64, two seeds: seed 0 catapults at 2.83 / 4 / 5.66 and diverges at 11.3;
    seed 1 at 2 / 4 / 8 and diverges at 16."""
    config = config_for(2, 64, 0)
    specs = [
        ScanSpec(c_loss=2.5, c_sharp=4.0, c_barrier=5.0, c_div=11.0, seed=0),
        ScanSpec(c_loss=2.0, c_sharp=3.5, c_barrier=8.0, c_div=16.0, seed=1, lambda0=30.0),
    ]
    return write_results(tmp_path / "one.h5", [(config, s) for s in specs])


def test_plot_file_writes_valid_pngs_next_to_the_file(one_point):
    paths = plot_file(one_point)
    assert [p.parent for p in paths] == [one_point.with_name("one-plots")] * 2
    names = sorted(p.name for p in paths)
    assert names[0].startswith("phases-fcn") and names[1].startswith("trajectories-fcn")
    for path in paths:
        width, height = png_size(path)
        assert 1200 <= width <= 2500 and 500 <= height <= 1500
        assert path.stat().st_size > 30_000  # a drawn figure, not an empty canvas


def test_trajectories_draw_the_normalized_arrays_up_to_divergence(one_point):
    loaded = load(one_point)
    scan = next(s for s in loaded["scans"].values() if s["config"]["seed"] == 0)
    figure = trajectory_figure(scan)
    loss_ax, sharp_ax = figure.axes[:2]
    runs = sorted(scan["runs"].values(), key=lambda r: r["c"])
    assert [r["c"] for r in runs] == CS[: CS.index(2.0**3.5) + 1]  # stopped at 11.3
    for ax, key, ref in (
        (loss_ax, "loss", scan["loss0"]),
        (sharp_ax, "sharpness", scan["lambda0"]),
    ):
        lines = lines_by_gid(ax, "c=")
        assert [float(line.get_gid()[2:]) for line in lines] == [r["c"] for r in runs]
        for line, run in zip(lines, runs, strict=True):
            values = run[key] / ref
            keep = np.isfinite(values)
            if run["diverged"]:
                keep &= np.arange(values.size) <= run["diverged_step"]
                assert line.get_linestyle() == "--"
            np.testing.assert_allclose(line.get_ydata(), values[keep])
            np.testing.assert_array_equal(line.get_xdata(), np.arange(values.size)[keep])
        assert len(lines_by_gid(ax, "diverged")) == 1
    assert loss_ax.get_yscale() == "log"
    cmap = colormaps[TRAJECTORY_CMAP]
    lines = lines_by_gid(loss_ax, "c=")
    assert lines[0].get_color() == pytest.approx(cmap(0.0))
    assert lines[-1].get_color() == pytest.approx(cmap(1.0))
    # the diverged run peaks at 1.5 * 11.3 / 2.5: the loss panel shows it
    assert loss_ax.get_ylim()[1] > 1.5 * CS[-2] / 2.5


def test_the_single_point_figure_draws_the_constants_and_ratios(one_point):
    (view,) = point_views(load(one_point))
    figure = point_phase_figure(view)
    top, strip = figure.axes[:2]
    expected = {
        "c_loss": [2.0**1.5, 2.0],
        "c_sharp": [4.0, 4.0],
        "c_barrier": [2.0**2.5, 8.0],
        "c_max": [8.0, 2.0**3.5],
    }
    for name, values in expected.items():
        (line,) = lines_by_gid(strip, name)
        assert line.get_xdata()[0] == pytest.approx(np.mean(values)), name
    for scan in view.summary.scans:
        tag = f"seed {scan.config['seed']} sgd {scan.config['sgd_seed']}"
        (loss,) = lines_by_gid(top, f"loss {tag}")
        stable = [r for r in scan.runs if not r.diverged]
        np.testing.assert_allclose(loss.get_xdata(), [r.c for r in stable])
        np.testing.assert_allclose(loss.get_ydata(), [r.loss_ratio_max for r in stable])
        (sharp,) = lines_by_gid(top, f"sharpness {tag}")
        np.testing.assert_allclose(sharp.get_ydata(), [r.sharp_ratio_max for r in stable])
    (diverged,) = lines_by_gid(top, "diverged")
    assert sorted(diverged.get_xdata()) == [2.0**3.5, 16.0]
    assert strip.get_xscale() == "log" and strip.xaxis.get_transform().base == 2


def test_undetermined_constants_are_never_drawn_as_values(tmp_path):
    """Neither seed's sharpness catapults before divergence; seed 1 never catapults its loss
    before divergence either."""
    config = config_for(2, 64, 0)
    path = write_results(
        tmp_path / "u.h5",
        [
            (config, ScanSpec(c_loss=2.0, c_barrier=2.0, c_div=8.0, seed=0)),
            (config, ScanSpec(c_div=16.0, seed=1)),
        ],
    )
    (view,) = point_views(load(path))
    assert not view.constants["c_sharp"].determined and not view.constants["c_sharp"].bounded
    strip = point_phase_figure(view).axes[1]
    assert lines_by_gid(strip, "c_sharp") == [] == lines_by_gid(strip, "c_sharp lower bound")
    assert [t.get_text() for t in strip.texts].count("undetermined (no seed found it)") == 1
    (c_loss,) = lines_by_gid(strip, "c_loss")
    assert c_loss.get_xdata()[0] == 2.0 and c_loss.get_fillstyle() == "bottom"  # 1 of 2 seeds
    labels = [t.get_text() for t in strip.get_yticklabels()]
    assert any("1/2 seeds; 1 diverged first" in label for label in labels)
    (c_max,) = lines_by_gid(strip, "c_max")
    assert c_max.get_xdata()[0] == pytest.approx((2.0**2.5 + 2.0**3.5) / 2)
    # no sharpness catapult: its region collapses, the loss catapult runs up to c_max
    assert view.boundaries()[1] == view.boundaries()[2]

    # only the never-diverging seed: c_max is a lower bound drawn open, at the last c tried
    path = write_results(tmp_path / "bound.h5", [(config, ScanSpec(c_loss=3.0, seed=1))])
    (view,) = point_views(load(path))
    strip = point_phase_figure(view).axes[1]
    (bound,) = lines_by_gid(strip, "c_max lower bound")
    assert bound.get_xdata()[0] == 16.0 and bound.get_markerfacecolor() == "white"
    assert view.boundaries() == (4.0, 16.0, 16.0, False)


def grid_file(tmp_path):
    """Four (depth, width) points, two seeds; c_loss grows with d/w, seeds disagree at one
    point, and one point never catapults its sharpness before divergence."""
    scans = []
    for depth, width, c_loss, c_sharp in (
        (2, 64, 2.0, 4.0),
        (2, 32, 2.5, 5.0),
        (4, 32, 3.0, 6.0),
        (4, 16, 4.0, math.inf),
    ):
        for seed in (0, 1):
            shift = 1.3 if (depth, width, seed) == (2, 32, 1) else 1.0
            spec = ScanSpec(
                c_loss=c_loss * shift, c_sharp=c_sharp, c_barrier=c_sharp, c_div=12.0, seed=seed
            )
            scans.append((config_for(depth, width, seed), spec))
    return write_results(tmp_path / "grid.h5", scans)


def test_several_points_get_phase_diagrams_against_d_over_w_and_1_over_w(tmp_path):
    path = grid_file(tmp_path)
    loaded = load(path)
    views = point_views(loaded)
    names = [name for name, _ in plan(loaded)]
    assert sum(n.startswith("trajectories-") for n in names) == 4
    assert [n for n in names if n.startswith("phase")] == [
        "phase-diagram-fcn-he-fashion-mnist-subset-d-over-w.png",
        "phase-diagram-fcn-he-fashion-mnist-subset-1-over-w.png",
    ]
    figure = phase_diagram_figure(views, "d/w")
    ax = figure.axes[0]
    (c_loss,) = lines_by_gid(ax, "c_loss")
    x = np.array([d / w for d, w in ((2, 64), (2, 32), (4, 32), (4, 16))])
    np.testing.assert_allclose(c_loss.get_xdata(), x)
    found = {  # the grid value at or above each threshold
        (2, 64): [2.0, 2.0],
        (2, 32): [2.0**1.5, 2.0**2],
        (4, 32): [4.0, 4.0],
        (4, 16): [4.0, 4.0],
    }
    np.testing.assert_allclose(c_loss.get_ydata(), [np.mean(v) for v in found.values()])
    (c_sharp,) = lines_by_gid(ax, "c_sharp")
    assert np.isnan(c_sharp.get_ydata()[-1]) and np.isfinite(c_sharp.get_ydata()[:3]).all()
    labels = ax.get_legend_handles_labels()[1]
    assert [label for label in labels if "undetermined" in label] == [
        r"$c_{sharp}$ (undetermined at 1 point: omitted)"
    ]
    (c_max,) = lines_by_gid(ax, "c_max")
    np.testing.assert_allclose(c_max.get_ydata(), [2.0**3.5] * 4)  # 16 diverges
    assert ax.get_yscale() == "log" and ax.yaxis.get_transform().base == 2
    references = {line.get_gid() for line in ax.get_lines()} & {"reference c=2", "reference c=4"}
    assert references == {"reference c=2", "reference c=4"}
    # 1/w with two depths: one panel per depth, each with its two widths
    panels = [a for a in phase_diagram_figure(views, "1/w").axes if lines_by_gid(a, "c_loss")]
    assert len(panels) == 2
    assert [sorted(lines_by_gid(a, "c_loss")[0].get_xdata()) for a in panels] == [
        [1 / 64, 1 / 32],
        [1 / 32, 1 / 16],
    ]


def test_points_without_a_shared_geometry_get_an_index_axis(tmp_path):
    scans = [
        (
            config_for(None, None, 0, init=init, model="myrtle"),
            ScanSpec(c_loss=2.0, c_sharp=4.0, c_div=8.0),
        )
        for init in ("he", "zero-last")
    ]
    path = write_results(tmp_path / "inits.h5", scans)
    loaded = load(path)
    names = [name for name, _ in plan(loaded)]
    assert "phase-diagram-points.png" in names
    assert sum(n.startswith("phases-myrtle") for n in names) == 2
    figure = dict(plan(loaded))["phase-diagram-points.png"]()
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["init he", "init zero-last"]
    assert "init" not in figure.get_suptitle()  # the title names only what the points share
    (c_loss,) = lines_by_gid(ax, "c_loss")
    np.testing.assert_allclose(c_loss.get_xdata(), [0, 1])


def test_bad_files_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such results file"):
        plot_file(tmp_path / "missing.h5")
    ResultsWriter(tmp_path / "empty.h5")
    with pytest.raises(UsageError, match="no finished runs"):
        plot_file(tmp_path / "empty.h5")
