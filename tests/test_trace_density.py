"""A trace's SLQ spectral density at chosen steps (``probe.trace_density``): against the dense
operator of a real trace state and the run's density, leaving the trace's other arrays as they
were, through a resume, refused out of range, in an older file, and in show, plot and export."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest
import torch
from test_trace import Interrupted, run, same_arrays, with_optimizer
from test_trace_curvature import EXTRAS, tiny

from phasebench.hessian.curvature import build_operator
from phasebench.hessian.quadrature import Quadrature
from phasebench.hessian.vectors import probe_vectors
from phasebench.plugins import components
from phasebench.probe import trace_density, trace_study, trajectory
from phasebench.probe.problem import Problem
from phasebench.probe.spectrum import DENSITY_SEED_OFFSET
from phasebench.probe.trace import Tracer
from phasebench.results import load, schema

DENSITY = ("density_step", "density_nodes", "density_weights", "density_hvps")
DENSITY += ("density_trace", "density_trace_error")


def traced(cfg):
    """The finished trace of ``cfg`` and its tracer (whose state is the last step's)."""
    problem = Problem.build(cfg, components())
    tracer = Tracer(problem, trajectory.start(problem), cfg.c)
    return tracer.run(), tracer, problem


def dense_of(problem, tracer, which="hessian"):
    inputs, targets = problem.sharpness_batch()
    operator = build_operator(
        which,
        tracer.state.model,
        problem.loss,
        inputs,
        targets,
        dtype=problem.dtype,
        optimizer=tracer.state.optimizer,
    )
    return operator.dense()


def test_the_density_integrates_to_1_and_its_first_moment_is_the_dense_trace():
    cfg = tiny(density_steps=(0, 4), density_probes=5, density_lanczos=30).with_c(1.0)
    trace, tracer, problem = traced(cfg)
    assert trace.measured_step.tolist() == [0, 2, 4] and trace.density_step.tolist() == [0, 4]
    assert trace.density_nodes.shape == (2, 5, 30) == trace.density_weights.shape
    np.testing.assert_allclose(trace.density_weights.sum(2), 1.0, atol=1e-12)
    assert trace.density_hvps.tolist() == [150, 150]
    hessian = dense_of(problem, tracer)  # the state of the last density, step 4
    n = hessian.shape[0]
    spectrum = torch.linalg.eigvalsh(hessian).numpy()
    quadrature = Quadrature(trace.density_nodes[-1], trace.density_weights[-1], size=n)
    grid, rho = quadrature.density()
    assert np.trapezoid(rho, grid) == pytest.approx(1.0, abs=1e-6)
    first = n * np.trapezoid(grid * rho, grid)
    scale = n * np.abs(spectrum).max()
    assert first == pytest.approx(trace.density_trace[-1], abs=1e-6 * scale)
    assert quadrature.trace == pytest.approx(trace.density_trace[-1], rel=1e-12)
    # the trace estimate is Hutchinson's on 5 probes: within its error of the exact trace
    error = trace.density_trace_error[-1]
    assert 0 < error and abs(trace.density_trace[-1] - spectrum.sum()) < 3 * error
    # every node lies in the spectrum; the largest Ritz value is lambda_t
    assert spectrum[0] - 1e-9 <= quadrature.bottom and quadrature.top <= spectrum[-1] + 1e-9
    assert quadrature.top == pytest.approx(trace.sharpness[-1, 0], rel=1e-6)
    # at step 0 the density is the run's (the same generator, operator and model), bit for bit
    probe = Problem.build(replace(cfg, density_steps=(0,), steps=1), components())
    probe_run = trajectory.run(probe, trajectory.start(probe), 1.0)
    np.testing.assert_array_equal(trace.density_nodes[0], probe_run.density_nodes[0])
    np.testing.assert_array_equal(trace.density_weights[0], probe_run.density_weights[0])


def test_adam_density_is_of_the_preconditioned_operator_and_undefined_at_step_0():
    cfg = with_optimizer(tiny(steps=2, every=1), "adam")
    cfg = replace(cfg, density_steps=(0, 2), density_probes=4, density_lanczos=30).with_c(0.1)
    trace, tracer, problem = traced(cfg)
    assert trace.provenance["operator"] == "preconditioned"
    assert trace.density_step.tolist() == [0, 2]
    assert np.isnan(trace.density_nodes[0]).all() and not trace.density_weights[0].any()
    assert trace.density_hvps[0] == 0 and np.isnan(trace.density_trace[0])
    # the trace estimate is Hutchinson's on the density's own probes (its generator, seeded
    # as the run's; step 0 drew none): of the dense P^-1/2 H P^-1/2, not of the Hessian
    inputs, targets = problem.sharpness_batch()
    operator = build_operator("hessian", tracer.state.model, problem.loss, inputs, targets)
    seed = torch.Generator().manual_seed(cfg.seed + DENSITY_SEED_OFFSET)
    probes = probe_vectors(operator, 4, "rademacher", seed).double()
    estimate = trace.density_trace[1]
    for which in ("preconditioned", "hessian"):
        dense = dense_of(problem, tracer, which).double()
        hutchinson = float(torch.einsum("ip,ij,jp->p", probes, dense, probes).mean())
        if which == "preconditioned":
            assert estimate == pytest.approx(hutchinson, rel=1e-9)
        else:
            assert abs(estimate - hutchinson) > 0.5 * abs(estimate)
    assert np.nanmax(trace.density_nodes[1]) == pytest.approx(trace.sharpness[-1, 0], rel=1e-6)


def test_density_leaves_the_other_arrays_and_a_resume_gives_it_bit_for_bit(tmp_path, monkeypatch):
    base = with_optimizer(tiny(steps=6, every=2, per_layer=True), "momentum")
    base = base.with_c(0.5)
    cfg = replace(base, density_steps=(1, 4, 5, 6), density_probes=2, density_lanczos=8)
    whole = run([cfg], tmp_path / "whole.h5")[cfg.trace_id]
    assert whole.density_step.tolist() == [1, 4, 5, 6]
    without = run([base], tmp_path / "plain.h5")[base.trace_id]
    same_arrays(whole, without)  # its own generator: the trace's other arrays as they were
    for name in EXTRAS:
        np.testing.assert_array_equal(getattr(whole, name), getattr(without, name), err_msg=name)
    assert without.density_step.size == 0 and without.density_nodes.shape == (0, 0, 0)
    # cut when the last measurement (step 6) is written: densities 1 and 4 are in the file,
    # 5 (taken between two measurements) is not
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
    assert load(out).traces[0].density_step.tolist() == [1, 4]
    taken = []
    slq = trace_density.slq
    monkeypatch.setattr(trace_density, "slq", lambda *a, **k: taken.append(1) or slq(*a, **k))
    resumed = run([cfg], out, resume=True)[cfg.trace_id]
    assert len(taken) == 2  # steps 5 and 6; 1 and 4 were stored before the cut
    same_arrays(resumed, whole)
    for name in (*EXTRAS, *DENSITY):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name), err_msg=name)
    assert "extras_cold_at" not in resumed.provenance


def test_a_density_step_out_of_range_is_one_line_exit_2_before_any_file(tmp_path):
    from test_trace_cli import TINY, invoke

    import phasebench
    from phasebench.errors import ParameterError

    for command in (["trace"], ["sweep", "--trace", "--executor", "local"]):
        out = tmp_path / "sub" / "bad.h5"
        args = [*command, *TINY, "--steps", "10", "--density-steps", "0,11", "--out", str(out)]
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "--density-steps [0, 11] must be steps from 0 to 10" in result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
        assert not out.parent.exists()
    with pytest.raises(ParameterError, match=r"density_steps \[0, 5\] must be steps from 0 to 4"):
        phasebench.trace(model="uv", steps=4, density_steps=(0, 5), out=str(tmp_path / "n.h5"))
    assert not (tmp_path / "n.h5").exists()


def test_cli_trace_stores_it_and_show_plot_and_export_present_it(tmp_path):
    from test_trace_cli import TINY, invoke

    from phasebench.plotting.files import plan
    from phasebench.results.tables import rows

    out = tmp_path / "t.h5"
    args = ["trace", *TINY, "--steps", "3", "--every", "2", "--out", str(out)]
    density = ["--density-steps", "0,3", "--density-probes", "2", "--density-lanczos", "5"]
    result = invoke(*args, *density)
    assert result.exit_code == 0, result.output
    (trace,) = load(out).traces
    assert trace.measured_step.tolist() == [0, 2, 3] and trace.density_step.tolist() == [0, 3]
    assert trace.density_nodes.shape == (2, 2, 5)
    shown = invoke("show", str(out))
    assert shown.exit_code == 0, shown.output
    assert f"density (SLQ) at step 0: trace {trace.density_trace[0]:.4g} +- " in shown.output
    assert "; step 3: trace" in shown.output
    figures = dict(plan(load(out)))
    (name,) = [n for n in figures if n.startswith("trace-density-")]
    lines = figures[name]().axes[0].get_lines()
    assert [line.get_label() for line in lines if not line.get_label().startswith("_")] == [
        "step 0",
        "step 3",
    ]
    found = rows(out, "trace_densities")
    assert len(found) == int((trace.density_weights > 0).sum())
    first = [r for r in found if r["step"] == 3 and r["probe"] == 1]
    np.testing.assert_array_equal([r["value"] for r in first], trace.density_nodes[1, 1])
    assert {r["trace"] for r in first} == {trace.density_trace[1]}
    assert {r["operator"] for r in found} == {"hessian"}
    exported = tmp_path / "d.csv"
    result = invoke("export", str(out), "--table", "trace_densities", "--out", str(exported))
    assert result.exit_code == 0, result.output
    assert len(exported.read_text().splitlines()) == len(found) + 1


def test_files_before_schema_5_load_with_no_densities(tmp_path):
    from phasebench.plotting.files import plan
    from phasebench.results.tables import rows

    cfg = tiny(steps=1, every=1).with_c(1.0)
    out = tmp_path / "old.h5"
    run([cfg], out)
    with h5py.File(out, "r+") as f:  # what a schema 4 writer left: no density datasets
        f.attrs["schema_version"] = 4
        group = f[f"traces/{cfg.scan_id}/{cfg.trace_id}"]
        for name in DENSITY:
            del group[name]
        schema.seal(cfg.trace_id, group)
    (trace,) = load(out).traces
    assert trace.density_step.size == 0 and trace.density_nodes.shape == (0, 0, 0)
    assert trace.measured_step.tolist() == [0, 1]
    assert not [n for n, _ in plan(load(out)) if n.startswith("trace-density-")]
    assert rows(out, "trace_densities") == []
