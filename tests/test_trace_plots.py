"""The trace figures on TraceRecord-like fixtures (the field names of the records' TraceRecord)
whose regimes are known: each figure draws exactly the stored data, on a log step axis, with
the threshold from the record and the regimes shaded; the summary over c draws the stored
starts, saturation level and EoS level; ``phasebench show``'s one-line regimes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from phasebench.analysis.regime_text import format_regimes
from phasebench.analysis.regimes import Regime, Regimes, label
from phasebench.plotting import plan, trace_figure, trace_summary_figure
from phasebench.plotting.style import REGIME_SHADE
from phasebench.plotting.trace_fields import saturation_sharpness, series, traces_of

STEPS = np.arange(0, 3001, 20)
T = STEPS.astype(float)


def config(c: float, depth: int = 2, seed: int = 0) -> dict:
    spec = {"options": {}}
    return {
        "model": {"name": "fcn", "options": {"depth": depth, "width": 64}},
        "dataset": {"name": "fashion-mnist-subset", **spec},
        "init": {"name": "he", **spec},
        "loss": {"name": "mse", **spec},
        "optimizer": {"name": "sgd", **spec},
        "estimator": {"name": "lanczos", **spec},
        "c": c,
        "seed": seed,
        "sgd_seed": 0,
    }


def make_trace(c: float, depth: int = 2, seed: int = 0, threshold: float | None = 2.0) -> dict:
    """A fall to 0.3, flat, a rise from step 800 / c (sooner at larger c) to the threshold 2,
    the period-2 flip there; labelled by the real rules, as the trace stores them."""
    rise_at = 800 / c
    falling = 0.3 + 0.7 * np.exp(-T / 30)
    rising = 0.3 * (np.maximum(T, rise_at) / rise_at) ** 1.67
    sharp = np.where(T < rise_at, falling, rising)
    sharp = np.where(sharp >= 2.0, 2.0 * np.where(np.arange(T.size) % 2, 0.9, 1.12), sharp)
    thresholds = np.full(T.size, np.nan if threshold is None else threshold)
    loss = 1.0 / (1.0 + T / 50)
    converged = np.ones(T.size, bool)
    converged[7] = False
    found = label(STEPS, sharp, thresholds, loss, converged)
    return {
        "trace_id": f"{c:g}-{depth}-{seed}-abcdef",
        "scan_id": "scan",
        "config": config(c, depth, seed),
        "c": c,
        "eta": c,
        "measured_step": STEPS,
        "loss": loss,
        "train_loss": loss * 1.2,
        "grad_norm": np.sqrt(loss),
        "sharpness": np.stack([sharp, 0.5 * sharp], axis=1),
        "converged": converged,
        "hvps": np.full(T.size, 3),
        "eta_t": np.full(T.size, 1.0),
        "threshold": thresholds,
        "threshold_kind": "2/eta",
        "regimes": found.to_dicts(),
        "eos": found.eos,
        "diverged": False,
        "diverged_step": -1,
        "steps_done": 3000,
        "seconds": 1.0,
        "provenance": {},
    }


def by_gid(ax, gid: str) -> list:
    return [a for a in [*ax.get_lines(), *ax.patches] if a.get_gid() == gid]


def test_a_trace_draws_its_sharpness_threshold_loss_and_regimes_on_a_log_step_axis():
    trace = make_trace(1.0)
    figure = trace_figure(trace)
    sharp_ax, loss_ax = figure.axes[:2]
    assert sharp_ax.get_xscale() == "log" and loss_ax.get_xscale() == "log"
    (line,) = by_gid(sharp_ax, "sharpness")
    ok = np.ones(T.size, bool)
    ok[7] = False  # the unconverged measurement is not on the line
    np.testing.assert_array_equal(line.get_xdata(), STEPS[ok] + 1)
    np.testing.assert_array_equal(line.get_ydata(), trace["sharpness"][ok, 0])
    (unconverged,) = by_gid(sharp_ax, "unconverged")
    assert list(unconverged.get_xdata()) == [STEPS[7] + 1]
    (threshold,) = by_gid(sharp_ax, "threshold")
    np.testing.assert_array_equal(threshold.get_ydata(), trace["threshold"])
    (loss,) = by_gid(loss_ax, "loss")
    np.testing.assert_array_equal(loss.get_ydata(), trace["loss"])
    assert by_gid(loss_ax, "train_loss")
    names = [r["name"] for r in trace["regimes"]]
    assert names == ["early-transient", "saturation", "progressive-sharpening", "edge-of-stability"]
    for regime in trace["regimes"]:
        (span,) = by_gid(sharp_ax, f"regime={regime['name']}")
        x0 = span.get_x() if hasattr(span, "get_x") else span.get_xy()[0][0]
        assert x0 == regime["start"] + 1
        assert np.allclose(span.get_facecolor()[:3], _rgb(REGIME_SHADE[regime["name"]]))
    assert f"EoS: lambda/threshold {trace['eos']['mean']:.3f}" in figure.get_suptitle()
    assert trace["eos"]["mean"] == pytest.approx(1.0, abs=0.05)


def _rgb(color: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(color)


def test_an_undefined_threshold_is_said_not_drawn_and_a_divergence_is_marked():
    trace = {**make_trace(2.0, threshold=None), "diverged": True, "diverged_step": 2000}
    sharp_ax, loss_ax = trace_figure(trace).axes[:2]
    assert not by_gid(sharp_ax, "threshold")
    assert any("not defined" in t.get_text() for t in sharp_ax.texts)
    assert not any(r["name"] == "edge-of-stability" for r in trace["regimes"])
    (mark,) = by_gid(loss_ax, "diverged")
    assert list(mark.get_xdata()) == [2001, 2001]


def test_a_trace_without_regimes_says_so_and_a_record_works_like_a_mapping():
    flat_zero = {**make_trace(1.0), "regimes": [], "eos": {}}
    record = SimpleNamespace(**flat_zero)  # attribute access, as a TraceRecord gives
    figure = trace_figure(record)
    assert any("no regime labelled" in t.get_text() for t in figure.axes[0].texts)
    assert not any((a.get_gid() or "").startswith("regime=") for a in figure.axes[0].patches)


def test_the_summary_draws_each_regimes_start_the_saturation_and_the_eos_level_over_c():
    traces = [
        make_trace(c, depth, seed) for c in (1.0, 1.5, 2.0) for depth in (2, 4) for seed in (0, 1)
    ]
    figure = trace_summary_figure(traces)
    start_ax, sat_ax, eos_ax = figure.axes[:3]
    for name in ("saturation", "progressive-sharpening", "edge-of-stability"):
        (markers,) = [
            line for line in start_ax.get_lines() if line.get_gid() == f"start={name}|depth=2"
        ]
        expected = [
            (t["c"], Regimes.from_dicts(t["regimes"]).first(name).start + 1)
            for t in traces
            if t["config"]["model"]["options"]["depth"] == 2
        ]
        drawn = zip(markers.get_xdata(), markers.get_ydata(), strict=True)
        assert sorted(drawn) == sorted(expected)
    # a sharper rise at larger c: the edge of stability starts sooner
    eos_starts = {t["c"]: t["eos"]["start"] for t in traces}
    assert eos_starts[2.0] < eos_starts[1.5] < eos_starts[1.0]
    (saturation,) = [line for line in sat_ax.get_lines() if line.get_gid() == "saturation|depth=4"]
    assert sorted(saturation.get_ydata()) == sorted(
        saturation_sharpness(t) for t in traces if t["config"]["model"]["options"]["depth"] == 4
    )
    assert 0.25 < min(saturation.get_ydata()) and max(saturation.get_ydata()) < 0.35
    eos_lines = [
        line
        for line in eos_ax.get_lines()
        if (line.get_gid() or "").startswith("eos|") and line.get_marker() not in ("_", "|")
    ]
    means = sorted(v for line in eos_lines for v in line.get_ydata())
    assert means == pytest.approx(sorted(t["eos"]["mean"] for t in traces))
    assert eos_ax.get_xscale() == "log"


def test_the_summary_groups_by_configuration_and_says_when_nothing_was_labelled():
    traces = [make_trace(1.0, 2), make_trace(2.0, 2), make_trace(1.0, 4)]
    assert [(name, len(members)) for name, members in series(traces)] == [
        ("depth=2", 2),
        ("depth=4", 1),
    ]
    empty = [{**t, "regimes": [], "eos": {}} for t in traces]
    start_ax, sat_ax, eos_ax = trace_summary_figure(empty).axes[:3]
    assert any("no regime labelled" in t.get_text() for t in start_ax.texts)
    assert any("no edge of stability" in t.get_text() for t in eos_ax.texts)


def test_a_file_with_traces_plans_their_figures():
    traces = [make_trace(1.0), make_trace(2.0)]
    loaded = {"attrs": {}, "scans": {}, "points": {}, "failures": {}, "traces": traces}
    names = [name for name, _ in plan(loaded)]
    assert names[-1] == "trace-summary.png"
    assert [n for n in names if n.startswith("trace-fcn")] == [
        "trace-fcn-depth-2-width-64-c1-seed0-sgd0-1-2-0-.png",
        "trace-fcn-depth-2-width-64-c2-seed0-sgd0-2-2-0-.png",
    ]
    assert traces_of(SimpleNamespace(traces=traces)) == traces
    assert traces_of({"traces": {"a": traces[0]}}) == [traces[0]]
    assert traces_of({"scans": {}}) == []


def test_format_regimes_is_one_line_in_time_order_with_the_eos_level():
    regimes = [
        {"name": "early-transient", "start": 0, "end": 100},
        {"name": "edge-of-stability", "start": 2220, "end": 5000},
    ]
    eos = {"mean": 1.004, "spread": 0.112, "start": 2220, "end": 5000, "measurements": 140}
    text = format_regimes(regimes, eos)
    assert text == (
        "early-transient 0-100 · edge-of-stability 2220-5000 · EoS lambda/threshold "
        "1.00 ± 0.11 over 140 measurements"
    )
    assert format_regimes(Regimes.from_dicts(regimes, eos)) == text
    assert format_regimes([Regime("saturation", 0, 10)]) == "saturation 0-10"
    assert format_regimes([], {}) == "no regime labelled"
