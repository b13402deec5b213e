"""A trace's opt-in curvature at every measured step: per-layer sharpness, the smallest
eigenvalue and the critical sharpness (``probe.trace_extras``), against dense references and
the run's values, through a resume, and in the file, table, figure and ``show``."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest
import torch
from probe_support import config
from test_trace import Interrupted, run, same_arrays, with_optimizer

from phasebench.hessian.blocks import parameter_blocks
from phasebench.hessian.curvature import build_operator
from phasebench.plugins import components
from phasebench.probe import trace_study, trajectory
from phasebench.probe.problem import Problem
from phasebench.probe.trace import Tracer
from phasebench.results import load, schema

EXTRAS = ("layer_sharpness", "layer_hvps", "smallest", "smallest_hvps")
EXTRAS += ("critical_sharpness", "critical_passes", "critical_converged")


def tiny(**protocol):
    """A depth-2 fcn (two blocks, 66 + 36 parameters) on Gaussian clusters, float64, Lanczos to
    1e-9: its Hessian blocks are dense in a millisecond."""
    base = dict(steps=4, every=2, batch_size=32, sharpness_examples=48, loss_examples=48)
    base.update(protocol)
    return config(
        "fcn",
        {"depth": 2, "width": 6},
        dataset="gaussian",
        dataset_options={"n_train": 96, "n_test": 8, "dim": 10, "classes": 4, "dtype": "float64"},
        estimator_options={"tol": 1e-9},
        dtype="float64",
        **base,
    )


def test_per_layer_smallest_and_critical_are_the_dense_blocks_and_the_runs_value():
    cfg = tiny(per_layer=True, smallest=True, critical=True).with_c(1.0)
    problem = Problem.build(cfg, components())
    begin = trajectory.start(problem)
    tracer = Tracer(problem, begin, 1.0)
    trace = tracer.run()
    model = tracer.state.model  # the state of the last measurement (step 4)
    assert trace.measured_step.tolist() == [0, 2, 4]
    blocks = parameter_blocks(model)
    assert trace.layers == [name for name, _ in blocks] and len(blocks) == 2
    assert trace.layer_sharpness.shape == (3, 2) and (trace.layer_hvps > 0).all()
    inputs, targets = problem.sharpness_batch()
    for i, (_, names) in enumerate(blocks):
        block = build_operator("hessian", model, problem.loss, inputs, targets, block=names)
        want = float(torch.linalg.eigvalsh(block.dense())[-1])
        assert trace.layer_sharpness[-1, i] == pytest.approx(want, rel=1e-7)
    whole = build_operator("hessian", model, problem.loss, inputs, targets)
    spectrum = torch.linalg.eigvalsh(whole.dense())
    assert float(spectrum[0]) < 0  # the dense Hessian has negative curvature here
    assert trace.smallest[-1] == pytest.approx(float(spectrum[0]), rel=1e-6, abs=1e-9)
    # a principal block's top is at most the whole matrix's (Cauchy interlacing)
    assert (trace.layer_sharpness <= trace.sharpness[:, :1] * (1 + 1e-8)).all()
    assert trace.critical_converged.all() and (trace.critical_passes <= 10).all()
    # at step 0 the critical sharpness is the probe run's, bit for bit
    probe = Problem.build(replace(cfg, per_layer=False, smallest=False, steps=1), components())
    probe_run = trajectory.run(probe, trajectory.start(probe), 1.0)
    assert trace.critical_sharpness[0] == probe_run.critical_sharpness[0]


def test_a_resumed_trace_carries_the_warm_starts_and_the_rest_is_unchanged(tmp_path):
    cfg = with_optimizer(
        tiny(steps=6, every=2, per_layer=True, smallest=True, critical=True), "momentum", beta=0.9
    ).with_c(0.5)
    whole = run([cfg], tmp_path / "whole.h5")[cfg.trace_id]
    out = tmp_path / "cut.h5"
    planned = trace_study.plan([cfg], out, components(), flush_seconds=0)
    writer = trace_study.open_file(planned)
    writes = []

    def cut(record, blob):
        if len(writes) == 3:
            raise Interrupted
        writer.write_trace(record, blob)
        writes.append(record.steps_done)

    with pytest.raises(Interrupted):
        trace_study.run_task(planned.tasks[0], components(), cut)
    assert load(out).traces[0].measured_step.tolist() == [0, 2, 4]
    resumed = run([cfg], out, resume=True)[cfg.trace_id]
    same_arrays(resumed, whole)
    for name in EXTRAS:
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name), err_msg=name)
    assert "extras_cold_at" not in resumed.provenance
    plain = replace(cfg, critical=False, per_layer=False, smallest=False)
    without = run([plain], tmp_path / "plain.h5")[plain.trace_id]
    same_arrays(whole, without)  # their own generator: the trace's other arrays as they were
    assert without.layer_sharpness.shape == (0, 0) and without.smallest.size == 0


def test_adam_per_layer_is_of_the_preconditioned_blocks_and_nan_before_p(tmp_path):
    cfg = with_optimizer(tiny(steps=2, every=1, per_layer=True, smallest=True), "adam")
    trace = run([cfg.with_c(0.1)], tmp_path / "a.h5")[cfg.with_c(0.1).trace_id]
    assert trace.provenance["operator"] == "preconditioned"
    assert np.isnan(trace.layer_sharpness[0]).all() and np.isnan(trace.smallest[0])
    assert np.isfinite(trace.layer_sharpness[1:]).all() and np.isfinite(trace.smallest[1:]).all()
    assert (trace.layer_sharpness[1:] <= trace.sharpness[1:, :1] * (1 + 1e-8)).all()


def test_files_before_schema_4_load_with_empty_curvature_arrays(tmp_path):
    cfg = tiny(steps=1, every=1).with_c(1.0)
    out = tmp_path / "old.h5"
    run([cfg], out)
    with h5py.File(out, "r+") as f:  # what a schema 3 writer left: no new fields
        f.attrs["schema_version"] = 3
        group = f[f"traces/{cfg.scan_id}/{cfg.trace_id}"]
        for name in (*EXTRAS, "layers"):
            if name in group:
                del group[name]
            elif name in group.attrs:
                del group.attrs[name]
        schema.seal(cfg.trace_id, group)
    trace = load(out).traces[0]
    assert trace.layers == [] and trace.layer_sharpness.shape == (0, 0)
    assert trace.smallest.size == 0 and trace.critical_sharpness.size == 0


def test_cli_trace_stores_them_and_show_plot_and_pandas_present_them(tmp_path):
    from test_trace_cli import TINY, invoke
    from test_trace_plots import by_gid

    from phasebench.plotting import trace_figure
    from phasebench.results.tables import to_pandas

    out = tmp_path / "t.h5"
    args = ["trace", *TINY, "--steps", "2", "--every", "1", "--out", str(out)]
    result = invoke(*args, "--per-layer", "--smallest", "--critical")
    assert result.exit_code == 0, result.output
    (trace,) = load(out).traces
    assert trace.config["per_layer"] and trace.layer_sharpness.shape == (3, 2)
    assert np.isfinite(trace.smallest).all() and trace.critical_converged.all()
    shown = invoke("show", str(out))
    first = f"last measured: per layer {trace.layers[0]}={trace.layer_sharpness[-1, 0]:.4g}, "
    assert shown.exit_code == 0 and first in shown.output
    assert "smallest" in shown.output and "critical" in shown.output
    steps = to_pandas(out, "trace_steps")
    for j, name in enumerate(trace.layers):
        np.testing.assert_array_equal(steps[f"layer:{name}"], trace.layer_sharpness[:, j])
    np.testing.assert_array_equal(steps["smallest"], trace.smallest)
    np.testing.assert_array_equal(steps["critical_sharpness"], trace.critical_sharpness)
    figure = trace_figure(trace)
    sharp_ax, _, small_ax = figure.axes[:3]
    for j, name in enumerate(trace.layers):
        (line,) = by_gid(sharp_ax, f"layer={name}")
        np.testing.assert_array_equal(line.get_ydata(), trace.layer_sharpness[:, j])
    assert by_gid(sharp_ax, "sharpness") and by_gid(sharp_ax, "critical")
    (smallest,) = by_gid(small_ax, "smallest")
    np.testing.assert_array_equal(smallest.get_ydata(), trace.smallest)


def test_a_checkpoint_without_their_state_restarts_them_cold_and_critical_reads_its_rows():
    from phasebench.probe.trace_extras import TraceExtras

    problem = Problem.build(tiny(per_layer=True, critical=True), components())
    extras = TraceExtras(problem, problem.initial_model(), "hessian", 4.0)
    assert extras.guess == 0.5 and extras.layer_warm == [None, None]
    rows = {"critical_sharpness": [3.0, 8.0, float("nan")], "critical_converged": [1, 1, 0]}
    assert extras.restore(None, rows) is False  # an older checkpoint: cold, and said so
    assert extras.guess == 2.0 / 8.0  # the last converged value's, from the stored rows
    state = extras.state()
    state["layer_warm"] = [torch.ones(66), None]
    assert extras.restore(state, rows) and torch.equal(extras.layer_warm[0], torch.ones(66))
