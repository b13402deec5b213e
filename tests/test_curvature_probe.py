"""The learning-rate unit, per-layer sharpness and the smallest eigenvalue in the probe, in the
results file, the CLI and the labels."""

from __future__ import annotations

import numpy as np
import pytest
from probe_support import config, uv_config

from phasebench.analysis.labels import c_label, describe
from phasebench.config import ProbeConfig
from phasebench.errors import ParameterError
from phasebench.hessian.api import run_estimator
from phasebench.hessian.blocks import parameter_blocks
from phasebench.hessian.curvature import build_operator
from phasebench.plugins import components
from phasebench.probe import trajectory
from phasebench.probe.problem import Problem, preflight


def small(tol: float = 1e-8, steps: int = 2, **protocol) -> ProbeConfig:
    return config(
        "fcn",
        {"depth": 2, "width": 8},
        dataset="gaussian",
        steps=steps,
        batch_size=32,
        sharpness_examples=32,
        loss_examples=32,
        dtype="float64",
        estimator_options={"tol": tol},
        **protocol,
    )


def test_the_default_unit_and_options_leave_run_ids_unchanged():
    base = small()
    assert small(lr_unit="hessian", per_layer=False, smallest=False).run_id == base.run_id
    assert small(lr_unit="ggn").scan_id != base.scan_id


def test_eta_is_c_over_the_ggn_top_eigenvalue_at_initialization():
    problem = Problem.build(small(lr_unit="ggn"), components())
    begin = trajectory.start(problem)
    scan = begin.record
    inputs, targets = problem.sharpness_batch()
    operator = build_operator("ggn", problem.initial_model(), problem.loss, inputs, targets)
    want = run_estimator(operator, "lanczos", options={"tol": 1e-10}).lambda_max
    assert scan.lr_unit == "ggn" and scan.lambda_unit == pytest.approx(want, rel=1e-6)
    assert scan.lambda_unit != pytest.approx(scan.lambda0, rel=1e-3)
    run = trajectory.run(problem, begin, 2.0)
    assert run.eta == pytest.approx(2.0 / scan.lambda_unit, rel=1e-12)
    assert run.sharpness[0] == scan.lambda0  # lambda_t stays the Hessian's


def test_on_the_uv_model_the_ntk_unit_is_the_theorys_kernel_eigenvalue():
    problem = Problem.build(uv_config(width=64, lr_unit="ntk", steps=1), components())
    scan = trajectory.start(problem).record
    model = problem.initial_model()
    u, v = model.u.weight[:, 0].detach(), model.v.weight[0].detach()
    x = float(problem.sharpness_inputs.reshape(-1)[0])
    want = float((u.square().sum() + v.square().sum()) / 64) * x * x
    assert scan.lambda_unit == pytest.approx(want, rel=1e-8)


def test_per_layer_and_smallest_are_stored_every_step_beside_the_global_value():
    problem = Problem.build(small(tol=1e-4, per_layer=True, smallest=True, steps=1), components())
    begin = trajectory.start(problem)
    scan = begin.record
    assert scan.layers == [name for name, _ in parameter_blocks(problem.initial_model())]
    assert len(scan.layers) == 2  # fcn depth 2: its two Linear layers
    run = trajectory.run(problem, begin, 1.0)
    assert run.layer_sharpness.shape == (2, len(scan.layers))
    assert np.array_equal(run.layer_sharpness[0], scan.layer_lambda0)
    assert np.isfinite(run.layer_sharpness).all() and np.isfinite(run.smallest).all()
    # a diagonal block's top eigenvalue is at most the whole matrix's; smallest <= top
    assert (run.layer_sharpness <= run.sharpness[:, None] * (1 + 1e-4)).all()
    assert (run.smallest < run.sharpness).all() and run.smallest[0] == scan.smallest0
    assert (run.smallest < 0).any()  # a ReLU net away from a minimum has negative curvature


def test_an_unknown_or_unavailable_unit_is_refused_before_any_work():
    with pytest.raises(ParameterError, match="unknown lr_unit 'gnn'"):
        preflight(small(lr_unit="gnn"), components())
    preflight(small(lr_unit="critical"), components())  # measured by the line search


def test_the_critical_unit_is_the_critical_sharpness_at_initialization():
    from phasebench.probe.problem import Problem
    from phasebench.probe.spectrum import critical_at
    from phasebench.probe.trajectory import start

    problem = Problem.build(small(lr_unit="critical"), components())
    begin = start(problem)
    value, passes, converged = critical_at(problem, problem.initial_model())
    assert converged and passes <= 10
    assert begin.record.lr_unit == "critical" and begin.record.lambda_unit == value
    assert begin.record.unit_lambda == value != begin.record.lambda0


def test_titles_and_labels_name_the_unit():
    assert c_label("ggn") == "c = eta * lambda_ggn"
    assert c_label("hessian", tex=True) == r"$c = \eta\,\lambda_0$"
    title = describe(small(lr_unit="ntk").to_dict())
    assert "c = eta * lambda_ntk" in title and "lambda" not in describe(small().to_dict())


def test_phase_diagrams_in_two_units_are_drawn_side_by_side(tmp_path):
    from dataclasses import replace

    from plotting_results import ScanSpec, config_for, write_results

    from phasebench.plotting.files import plan
    from phasebench.results import load

    loaded = {}
    for unit, c_loss in (("hessian", 2.0), ("ggn", 3.0)):
        scans = [
            (replace(config_for(depth, 64, 0), lr_unit=unit), ScanSpec(c_loss=c_loss, c_div=8.0))
            for depth in (2, 4)
        ]
        loaded[unit] = load(write_results(tmp_path / f"{unit}.h5", scans))
    figures = dict(plan(loaded["hessian"], beside=loaded["ggn"]))
    name = "phase-diagram-units-fcn-he-fashion-mnist-subset-hessian-ggn.png"
    assert name in figures
    assert not any("units" in n for n, _ in plan(loaded["hessian"]))  # one unit: no such figure
    figure = figures[name]()
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["c = eta * lambda0", "c = eta * lambda_ggn"]
    assert "lambda_{\\mathrm{ggn}}" in panels[1].get_ylabel()


def test_plot_takes_several_files_beside_one_panel_per_unit(tmp_path):
    from dataclasses import replace

    from plotting_results import ScanSpec, config_for, write_results

    from phasebench.plotting.files import plot_file

    paths = {}
    for unit, c_loss in (("hessian", 2.0), ("ggn", 3.0), ("critical", 1.5)):
        scans = [
            (replace(config_for(depth, 64, 0), lr_unit=unit), ScanSpec(c_loss=c_loss, c_div=8.0))
            for depth in (2, 4)
        ]
        paths[unit] = write_results(tmp_path / f"{unit}.h5", scans)
    written = plot_file(
        paths["ggn"], tmp_path / "out", beside=[paths["hessian"], paths["critical"]]
    )
    names = [path.name for path in written]
    assert "phase-diagram-units-fcn-he-fashion-mnist-subset-hessian-ggn-critical.png" in names
    one = plot_file(paths["ggn"], tmp_path / "one", beside=paths["hessian"])  # a single path
    assert "phase-diagram-units-fcn-he-fashion-mnist-subset-hessian-ggn.png" in [
        path.name for path in one
    ]


def _adam(config: ProbeConfig, **options) -> ProbeConfig:
    import dataclasses

    from phasebench.config import ComponentSpec

    adam = components().get("optimizer", "adam")
    return dataclasses.replace(config, optimizer=ComponentSpec.of("adam", adam.stored(options)))


def test_the_preconditioned_unit_needs_an_adaptive_optimizer():
    with pytest.raises(ParameterError, match="lr_unit preconditioned needs an adaptive"):
        preflight(small(lr_unit="preconditioned"), components())  # sgd
    preflight(_adam(small(lr_unit="preconditioned")), components())


@pytest.mark.parametrize("gi", [False, True])
def test_the_preconditioned_unit_is_lambda_of_p_inv_h_with_adams_p_after_one_gradient(gi):
    """lambda_P(theta_0) against a dense P^-1/2 H P^-1/2, P written out here from Adam's
    formula: v_1 = (1 - beta2) g0^2 (GI-Adam: g0^2), t = 1, P = (1 - beta1^2)(sqrt(v_1 / (1 -
    beta2)) + eps), g0 the sharpness batch's gradient at theta_0."""
    import torch

    problem = Problem.build(_adam(small(lr_unit="preconditioned"), gi=gi), components())
    begin = trajectory.start(problem)
    model = problem.initial_model()
    inputs, targets = problem.sharpness_batch()
    params = list(model.parameters())
    grads = torch.autograd.grad(problem.loss(model(inputs), targets), params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])
    dense = torch.stack(
        [
            torch.cat(
                [h.reshape(-1) for h in torch.autograd.grad(flat[i], params, retain_graph=True)]
            )
            for i in range(flat.numel())
        ]
    ).double()
    g0 = flat.detach().double()
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    v1 = g0**2 if gi else (1 - beta2) * g0**2
    p = (1 - beta1**2) * ((v1 / (1 - beta2)).sqrt() + eps)
    scaled = dense / p.sqrt()[:, None] / p.sqrt()[None, :]
    want = float(torch.linalg.eigvalsh((scaled + scaled.T) / 2)[-1])
    scan = begin.record
    assert scan.lr_unit == "preconditioned"
    assert scan.lambda_unit == pytest.approx(want, rel=1e-6)
    assert c_label("preconditioned") == "c = eta * lambda_P"
    # theta_0 is untouched by the priming step: lambda0 is the plain Hessian's
    assert scan.lambda0 == pytest.approx(float(torch.linalg.eigvalsh(dense)[-1]), rel=1e-6)
