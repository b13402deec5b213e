"""The trace engine: long runs measured every K steps, written as they go, resumed after a kill."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from probe_support import config, uv_config
from support import REPO, subprocess_env

from phasebench.analysis import regimes
from phasebench.cli.trace_options import traced
from phasebench.config import ComponentSpec
from phasebench.errors import ParameterError, PluginError
from phasebench.plugins import components
from phasebench.probe import trace_study
from phasebench.probe.problem import Problem, balanced_subset
from phasebench.results import load
from phasebench.results.records import TraceRecord
from phasebench.stability import UNDECLARED, stability_threshold, threshold_of

ARRAYS = ("measured_step", "loss", "train_loss", "grad_norm", "sharpness", "converged", "hvps")
ARRAYS += ("eta_t", "threshold")


def small(**protocol):
    """A tiny fcn on Gaussian clusters, float64: a trace of it takes a fraction of a second."""
    base = dict(
        steps=60,
        every=10,
        batch_size=32,
        sharpness_examples=64,
        loss_examples=64,
        dtype="float64",
    )
    base.update(protocol)
    return config(
        "fcn",
        {"depth": 2, "width": 8},
        dataset="gaussian",
        dataset_options={"n_train": 128, "n_test": 8, "dim": 6, "classes": 4, "dtype": "float64"},
        **base,
    )


def with_optimizer(cfg, name, **options):
    spec = ComponentSpec.of(name, components().get("optimizer", name).options(options))
    return replace(cfg, optimizer=spec)


def run(configs, out, flush_seconds=3600.0, **kwargs) -> dict[str, TraceRecord]:
    planned = trace_study.plan(configs, out, components(), flush_seconds=flush_seconds, **kwargs)
    outcome = trace_study.execute(planned, components())
    assert outcome.failed == 0, outcome.errors
    return {t.trace_id: t for t in load(out).traces}


def same_arrays(a: TraceRecord, b: TraceRecord) -> None:
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_fcn_trace_measures_every_k_steps_into_the_file(tmp_path):
    cfg = small(top_k=2, steps=40).with_c(1.0)
    traces = run([cfg], tmp_path / "t.h5")
    trace = traces[cfg.trace_id]
    assert trace.scan_id == cfg.scan_id and trace.finished and not trace.diverged
    assert trace.measured_step.tolist() == [0, 10, 20, 30, 40]
    assert trace.sharpness.shape == (5, 2)
    assert np.all(trace.sharpness[:, 0] >= trace.sharpness[:, 1])
    assert trace.eta == pytest.approx(1.0 / trace.provenance["lambda0"])
    np.testing.assert_allclose(trace.threshold, 2 / trace.eta_t)
    assert trace.threshold_kind == "2/eta" and trace.steps_done == 40
    assert np.all(np.isfinite(trace.grad_norm)) and np.all(trace.grad_norm > 0)
    assert trace.loss[-1] < trace.loss[0]
    assert np.all(trace.hvps > 0)
    labelled = regimes.label(trace.measured_step, trace.sharpness, trace.threshold, trace.loss,
                             trace.converged)  # fmt: skip
    assert trace.regimes == labelled.to_dicts() and trace.eos == labelled.eos


def test_uv_trace_and_the_last_step_is_always_measured(tmp_path):
    cfg = uv_config(width=16, steps=25, every=10).with_c(1.0)
    trace = run([cfg], tmp_path / "uv.h5")[cfg.trace_id]
    assert trace.measured_step.tolist() == [0, 10, 20, 25]
    assert trace.sharpness[0, 0] == pytest.approx(trace.provenance["lambda0"])


def test_momentum_threshold_is_declared_by_the_optimizer(tmp_path):
    cfg = with_optimizer(small(steps=20), "momentum", beta=0.5).with_c(0.5)
    trace = run([cfg], tmp_path / "m.h5")[cfg.trace_id]
    assert trace.threshold_kind == "(2+2beta)/eta"
    np.testing.assert_allclose(trace.threshold, 3.0 / trace.eta_t)


def test_adam_trace_measures_the_preconditioned_sharpness(tmp_path):
    cfg = with_optimizer(small(steps=10, every=5), "adam").with_c(0.01)
    trace = run([cfg], tmp_path / "a.h5")[cfg.trace_id]
    assert trace.provenance["operator"] == "preconditioned"
    assert trace.threshold_kind == "(2+2beta1)/(eta(1-beta1))"
    assert math.isnan(trace.sharpness[0, 0]) and math.isnan(trace.threshold[0])  # P: after a step
    assert np.all(np.isfinite(trace.sharpness[1:, 0]))
    np.testing.assert_allclose(trace.threshold[1:], 3.8 / (0.1 * trace.eta_t[1:]))


def test_a_warmup_schedule_moves_eta_t_and_the_threshold_with_it(tmp_path):
    schedule = components().get("schedule", "linear")
    spec = ComponentSpec.of("linear", schedule.options({"warmup_steps": 10, "init_c": 0.1}))
    cfg = replace(small(steps=20, every=5), schedule=spec).with_c(1.0)
    trace = run([cfg], tmp_path / "w.h5")[cfg.trace_id]
    assert trace.eta_t[0] < trace.eta_t[1] < trace.eta_t[2] == trace.eta_t[-1]
    assert trace.eta_t[-1] == pytest.approx(trace.eta)
    np.testing.assert_allclose(trace.threshold, 2 / trace.eta_t)


def test_thresholds_of_the_builtin_and_third_party_optimizers():
    comps = components()

    def of(name, eta=0.1, **options):
        registration = comps.get("optimizer", name)
        return threshold_of(registration.load(), eta, registration.options(options), name)

    assert of("sgd").value == pytest.approx(20.0)
    assert of("momentum", beta=0.9).value == pytest.approx(38.0)
    nesterov = of("momentum", beta=0.5, nesterov=True)
    assert nesterov.value == pytest.approx(3.0 / (2.0 * 0.1))
    # adaptive: the threshold of lambda_max(P^-1 H), its phasebench.adaptive declaration's
    assert of("adam").kind == "(2+2beta1)/(eta(1-beta1))"
    assert of("adam").value == pytest.approx(380.0)

    def plain(params, lr):  # a third party's optimizer that declares nothing
        return torch.optim.SGD(params, lr=lr)

    assert threshold_of(plain, 0.1, {}, "plain").kind == UNDECLARED

    @stability_threshold(lambda eta, **o: (1 / eta, "1/eta"))
    def declared(params, lr):
        return torch.optim.SGD(params, lr=lr)

    assert threshold_of(declared, 0.5, {}, "declared").value == 2.0

    @stability_threshold(lambda eta, **o: "no tuple")
    def broken(params, lr):
        return torch.optim.SGD(params, lr=lr)

    with pytest.raises(PluginError, match="optimizer 'broken'"):
        threshold_of(broken, 0.5, {}, "broken")


def test_nesterov_threshold_is_where_the_quadratic_diverges():
    """Torch's Nesterov step on f = lambda x^2 / 2: stable just below the declared threshold,
    unstable just above."""
    beta, eta = 0.5, 0.1
    registration = components().get("optimizer", "momentum")
    options = registration.options({"beta": beta, "nesterov": True})
    edge = threshold_of(registration.load(), eta, options, "momentum").value

    def grows(lam: float) -> bool:
        x = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
        opt = registration.load()([x], eta, **options)
        for _ in range(150):
            opt.zero_grad()
            (0.5 * lam * x**2).sum().backward()
            opt.step()
        return abs(float(x.detach())) > 1.0

    assert not grows(edge * 0.99) and grows(edge * 1.01)


def test_divergence_is_recorded_at_its_step_not_raised(tmp_path):
    cfg = small(steps=50, every=10).with_c(64.0)
    trace = run([cfg], tmp_path / "d.h5")[cfg.trace_id]
    assert trace.diverged and trace.finished
    assert 0 < trace.diverged_step <= 50
    assert trace.measured_step[-1] == trace.diverged_step
    assert math.isnan(trace.sharpness[-1, 0])
    assert trace.regimes == [] or all(r["end"] < trace.diverged_step for r in trace.regimes)


def test_full_batch_subset_is_class_balanced_and_deterministic(tmp_path):
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)[torch.randperm(100)]
    first = balanced_subset(labels, 31, 3)
    assert torch.equal(first, balanced_subset(labels.clone(), 31, 3))
    assert sorted(torch.bincount(labels[first]).tolist()) == [10, 10, 11]
    with pytest.raises(ParameterError, match="class 2"):
        balanced_subset(labels, 90, 3)
    cfg = small(train_examples=40, full_batch=True, loss_examples=40, sharpness_examples=40)
    problem = Problem.build(cfg, components())
    assert len(problem.train) == 40
    assert torch.bincount(problem.train.labels).tolist() == [10, 10, 10, 10]
    # full batch: the training loss of a state is the loss over all 40 (the loss batch)
    cfg = cfg.with_c(0.5)
    trace = run([cfg], tmp_path / "gd.h5")[cfg.trace_id]
    np.testing.assert_allclose(trace.train_loss, trace.loss, rtol=1e-10)
    # the command line's default fixed batches shrink to the subset
    shrunk = traced(small(), every=5, top_k=1, train_examples=40)
    assert shrunk.loss_examples == shrunk.sharpness_examples == 40


def test_trace_id_is_not_the_run_id_and_probe_ids_are_unchanged():
    cfg = small()
    assert cfg.trace_id != cfg.run_id
    plain = replace(cfg, every=1, top_k=1, train_examples=0, full_batch=False)
    hashed = plain.hashed()
    assert not {"every", "top_k", "train_examples", "full_batch"} & set(hashed)
    assert replace(cfg, every=5).trace_id != replace(cfg, every=10).trace_id


def test_files_before_traces_load_with_no_traces():
    for name in ("main-a7147a9.h5", "main-a7147a9-partial.h5"):
        loaded = load(Path(__file__).parent / "data" / name)
        assert loaded.traces == [] and loaded["scans"]


class Interrupted(Exception):
    pass


def test_resumed_trace_gives_the_same_arrays_bit_for_bit(tmp_path):
    """A trace stopped after its third write and resumed equals an uninterrupted one exactly:
    the checkpoint holds the parameters, the optimizer's state, the batch order's generator and
    position, the estimator's generator and its warm start."""
    cfg = with_optimizer(small(steps=30, every=5), "momentum", beta=0.9).with_c(0.5)
    whole = run([cfg], tmp_path / "whole.h5")[cfg.trace_id]

    out = tmp_path / "cut.h5"
    planned = trace_study.plan([cfg], out, components(), flush_seconds=0)
    writer = trace_study.open_file(planned)
    writes = []

    class Cut:
        def write_trace(self, record, blob):
            if len(writes) == 3:
                raise Interrupted
            writer.write_trace(record, blob)
            writes.append(record.steps_done)

        def write_failure(self, *args):
            pass

    with pytest.raises(Interrupted):
        trace_study.run_task(planned.tasks[0], components(), Cut().write_trace)
    partial = load(out).traces[0]
    assert not partial.finished and partial.measured_step.tolist() == [0, 5, 10]
    with pytest.raises(ParameterError, match="already holds"):
        trace_study.plan([cfg], out, components())
    resumed = run([cfg], out, resume=True)[cfg.trace_id]
    same_arrays(resumed, whole)
    assert resumed.finished and resumed.steps_done == 30


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_trace import small, with_optimizer
    from phasebench.plugins import components
    from phasebench.probe import trace_study

    cfg = with_optimizer(small(steps=60, every=5), "momentum", beta=0.9).with_c(0.5)
    planned = trace_study.plan([cfg], {out!r}, components(), flush_seconds=0)
    writer = trace_study.open_file(planned)

    class Slow:  # so the parent can kill it mid-trace, after a known write
        def write_trace(self, record, blob):
            writer.write_trace(record, blob)
            print(record.steps_done, flush=True)
            time.sleep(0.5)

    trace_study.run_task(planned.tasks[0], components(), Slow().write_trace)
    """
)


@pytest.mark.slow  # a fresh interpreter imports torch; the in-process cut above runs by default
def test_sigkilled_trace_file_is_readable_and_resumes_exactly(tmp_path):
    cfg = with_optimizer(small(steps=60, every=5), "momentum", beta=0.9).with_c(0.5)
    out = tmp_path / "killed.h5"
    script = KILLED_SCRIPT.format(tests=str(REPO / "tests"), out=str(out))
    env = subprocess_env(OMP_NUM_THREADS="1")
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        seen = [child.stdout.readline() for _ in range(3)]  # three writes: steps 0, 5, 10
        assert [s.strip() for s in seen] == ["0", "5", "10"], seen
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    partial = load(out).traces[0]  # readable after SIGKILL, checksums verified
    assert not partial.finished and partial.measured_step[-1] in (10, 15)
    resumed = run([cfg], out, resume=True)[cfg.trace_id]
    whole = run([cfg], tmp_path / "whole.h5")[cfg.trace_id]
    same_arrays(resumed, whole)


def test_flushing_every_s_seconds_writes_far_less_and_the_end_always(tmp_path):
    cfg = small(steps=20, every=2).with_c(1.0)
    planned = trace_study.plan([cfg], tmp_path / "f.h5", components(), flush_seconds=3600)
    writes = []
    trace_study.run_task(planned.tasks[0], components(), lambda r, b: writes.append(b is None))
    assert writes == [False, True]  # the first measurement, then the finished trace


def test_bad_trace_settings_are_one_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="every must be between 1 and steps"):
        trace_study.plan([small(steps=10, every=20)], tmp_path / "x.h5", components())
    with pytest.raises(ParameterError, match="train_examples 999"):
        trace_study.plan([small(train_examples=999)], tmp_path / "x.h5", components())
    assert not (tmp_path / "x.h5").exists()


def test_warm_measurements_use_the_eigenvalue_rule_unless_the_configuration_says(tmp_path):
    """A trace's warm-started measurements stop on Lanczos' estimated eigenvalue error (its
    ``stop="auto"``); the default stays out of the stored configuration (no id changes), and
    ``stop="residual"`` brings the residual rule back: the same training, more products,
    eigenvalues within tol of each other."""
    from phasebench.probe.trace import tracking_options

    default = small(steps=60, sharpness_examples=128).with_c(1.0)
    residual = replace(
        default,
        estimator=ComponentSpec.of(
            "lanczos", components().get("estimator", "lanczos").stored({"stop": "residual"})
        ),
    )
    assert "stop" not in default.to_dict()["estimator"]["options"]
    assert residual.trace_id != default.trace_id
    comps = components()
    assert tracking_options(Problem.build(default, comps))["stop"] == "eigenvalue"
    assert tracking_options(Problem.build(residual, comps))["stop"] == "residual"
    traces = run([default, residual], tmp_path / "t.h5")
    fast, slow = traces[default.trace_id], traces[residual.trace_id]
    np.testing.assert_array_equal(fast.loss, slow.loss)  # measuring does not move training
    assert fast.converged.all() and slow.converged.all()
    assert fast.hvps[1:].sum() < slow.hvps[1:].sum()
    np.testing.assert_allclose(fast.sharpness, slow.sharpness, rtol=1e-3)
