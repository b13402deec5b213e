"""One run of the probe: from the shared initialization, ``steps`` SGD steps at eta = c / lambda0
(or the schedule's eta_t), recording the loss and the sharpness after every step, then the loss
along theta_0 -> theta_T."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import torch
from torch.nn.utils import parameters_to_vector

from phasebench.errors import UsageError
from phasebench.hessian.api import run_estimator
from phasebench.hessian.curvature import build_operator
from phasebench.hessian.operator import HessianOperator
from phasebench.plugins import Components
from phasebench.probe import curvature, shortcuts
from phasebench.probe.barrier import barrier_losses
from phasebench.probe.problem import Problem
from phasebench.probe.provenance import provenance
from phasebench.probe.schedule import learning_rates, rates, set_learning_rate
from phasebench.probe.spectrum import SpectrumExtras, warm_rows
from phasebench.results.records import RunRecord, ScanRecord


@dataclass
class Start:
    """The initialization shared by every c of a scan."""

    model: torch.nn.Module
    theta0: torch.Tensor
    record: ScanRecord
    vector: torch.Tensor | None  # lambda0's eigenvector: the warm start of step 1


@torch.no_grad()
def load_vector(model: torch.nn.Module, vector: torch.Tensor) -> None:
    """Copy a flat vector into the parameters, in place. (``vector_to_parameters`` would make
    the parameters views of ``vector``, and training would then overwrite theta_0.)"""
    position = 0
    for p in model.parameters():
        p.copy_(vector[position : position + p.numel()].view_as(p))
        position += p.numel()


def sharpness_operator(problem: Problem, model: torch.nn.Module, check: bool = True, batch=None):
    """The operator the sharpness is measured on, at the model's parameters (``check=False``:
    the model, loss and data were checked when the scan's first operator was built), on the
    fixed sharpness batch or on the training examples of ``batch`` (indices)."""
    inputs, targets = _examples(problem, batch)
    return HessianOperator(model, problem.loss, inputs, targets, dtype=problem.dtype, check=check)


def measure_sharpness(
    problem: Problem,
    model: torch.nn.Module,
    warm_start,
    generator,
    components: Components | None = None,
    k: int | None = None,
    which: str = "hessian",
    optimizer=None,
    operator=None,
    batch=None,
    options: dict | None = None,
):
    """The top eigenpair (``k``: the top k, default the configuration's ``top_k``) after a
    step, through the one estimator entry point, with the registries given (``components``,
    else the problem's). ``which``: the curvature operator (``build_operator``'s;
    ``preconditioned`` needs the ``optimizer``); ``operator``: one the caller has built at
    these parameters already (``sharpness_operator``); ``batch``: the indices of the training
    examples to measure on (``Problem.step_sharpness_batches``), else the fixed sharpness
    batch; ``options``: the estimator's, when not the configuration's."""
    if operator is None and which == "hessian":
        operator = sharpness_operator(problem, model, batch=batch)
    elif operator is None:
        inputs, targets = _examples(problem, batch)
        operator = build_operator(
            which, model, problem.loss, inputs, targets, dtype=problem.dtype, optimizer=optimizer
        )
    return run_estimator(
        operator,
        problem.config.estimator.name,
        problem.config.top_k if k is None else k,
        warm_start=warm_start,
        generator=generator,
        return_vectors=True,
        options=problem.config.estimator.opts() if options is None else options,
        components=components if components is not None else problem.components,
    )


def _examples(problem: Problem, batch) -> tuple[torch.Tensor, torch.Tensor]:
    if batch is None:
        return problem.sharpness_batch()
    return problem.inputs[batch], problem.targets[batch]


def start(problem: Problem, known: ScanRecord | None = None) -> Start:
    """Initialize the model and measure lambda0 and L0 (or reuse them from a resumed file)."""
    config = problem.config
    model = problem.initial_model()
    theta0 = parameters_to_vector(model.parameters()).detach().clone()
    if known is not None:
        return Start(model, theta0, known, None)
    began = time.perf_counter()
    result = measure_sharpness(
        problem, model, None, torch.Generator(device=problem.device).manual_seed(config.seed)
    )
    lambda0 = result.lambda_max
    if not lambda0 > 0:
        raise UsageError(
            f"the sharpness at initialization is {lambda0:.3g} (not positive), so eta = c / "
            "lambda0 is undefined; check the model, initialization and loss"
        )
    record = ScanRecord(
        scan_id=config.scan_id,
        point_id=config.point_id,
        config=config.to_dict(),
        lambda0=float(lambda0),
        loss0=problem.eval_loss(model),
        lambda0_hvps=int(result.hvps),
        lambda0_converged=bool(result.converged),
        lambda0_seconds=time.perf_counter() - began,
        **curvature.at_start(problem, model, float(lambda0)),
        lambda0_top_k=np.asarray(result.eigenvalues if config.top_k > 1 else ()),
    )
    vector = None if result.eigenvectors is None else warm_rows(result.eigenvectors, config.top_k)
    return Start(model, theta0, record, vector)


def _diverged(value: float, threshold: float) -> bool:
    return not math.isfinite(value) or value > threshold


def run(problem: Problem, begin: Start, c: float) -> RunRecord:
    """Train ``steps`` steps at eta = c / lambda0 from the shared initialization."""
    config = problem.config.with_c(c)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    steps = config.steps
    model = begin.model
    load_vector(model, begin.theta0)
    lambda0, loss0 = begin.record.lambda0, begin.record.loss0
    eta = c / begin.record.unit_lambda
    extras = curvature.Extras(problem, steps, begin.record)
    optimizer = problem.optimizer(model, eta)
    unit = begin.record.unit_lambda  # the curvature eta is measured in
    eta_t = rates(learning_rates(problem, eta, unit, steps), steps)  # step t uses eta_t[t-1]

    loss = np.full(steps + 1, np.nan)
    batch_loss = np.full(steps, np.nan)
    sharpness = np.full(steps + 1, np.nan)
    hvps = np.zeros(steps + 1, dtype=np.int64)
    converged = np.zeros(steps + 1, dtype=bool)
    loss[0], sharpness[0] = loss0, lambda0
    hvps[0], converged[0] = begin.record.lambda0_hvps, begin.record.lambda0_converged
    diverged_step, sharp_seconds = -1, 0.0
    generator = torch.Generator(device=problem.device).manual_seed(config.seed + 1)
    warm = begin.vector
    spectrum = SpectrumExtras(problem, steps, lambda0, begin.record.lambda0_top_k, optimizer)
    spectrum.measure(0, model)
    measured_on = problem.step_sharpness_batches()  # None: the fixed sharpness batch

    model.train()
    for t, index in enumerate(problem.sgd_batches(), start=1):
        optimizer.zero_grad(set_to_none=True)
        set_learning_rate(optimizer, eta_t[t - 1])
        value = problem.loss(model(problem.inputs[index]), problem.targets[index])
        batch_loss[t - 1] = value.item()
        value.backward()
        optimizer.step()
        loss[t], operator = shortcuts.step_loss(problem, model, sharpness_operator)
        if _diverged(loss[t], config.divergence_threshold):
            diverged_step = t
            break
        tick = time.perf_counter()
        batch = None if measured_on is None else measured_on[t - 1]
        result = measure_sharpness(problem, model, warm, generator, operator=operator, batch=batch)
        sharpness[t], hvps[t], converged[t] = result.lambda_max, result.hvps, result.converged
        if result.eigenvectors is not None:
            warm = warm_rows(result.eigenvectors, config.top_k)
        extras.measure(t, model, float(result.lambda_max))
        sharp_seconds += time.perf_counter() - tick
        spectrum.measure(t, model, result)
    optimizer.zero_grad(set_to_none=True)

    tau = np.linspace(0.0, 1.0, config.barrier_points)
    barrier = np.full(0, np.nan)
    if diverged_step < 0:
        theta_t = parameters_to_vector(model.parameters()).detach().clone()
        barrier = barrier_losses(
            problem, model, begin.theta0, theta_t, tau, loss0, loss[steps], load_vector
        )
    load_vector(model, begin.theta0)
    return RunRecord(
        run_id=config.run_id,
        scan_id=config.scan_id,
        config=config.to_dict(),
        c=float(c),
        eta=float(eta),
        eta_t=eta_t,
        loss=loss,
        batch_loss=batch_loss,
        sharpness=sharpness,
        hvps=hvps,
        converged=converged,
        barrier_tau=tau,
        barrier_loss=barrier,
        diverged=diverged_step >= 0,
        diverged_step=diverged_step,
        seconds=time.perf_counter() - clock,
        sharpness_seconds=sharp_seconds,
        **extras.fields(),
        **spectrum.fields(),
        provenance={
            **provenance(problem.device),
            "dtype": config.dtype,
            "started": started,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )
