"""The probe's per-step spectrum measurements, each an opt-in ProbeConfig field:

- ``top_k`` (k > 1): the estimator is asked for k eigenvalues at every step (one call, the
  same one that gives lambda_t, warm-started from the previous step's k vectors); the run
  stores them as ``sharpness_top_k`` (T+1, k), column 0 being ``sharpness``;
- ``critical``: the critical sharpness 2 / eta_c along the optimizer's update direction on the
  sharpness batch, by ``phasebench.hessian.critical`` (at most 10 forward passes), its first
  step 2 / the previous value (2 / lambda0 at t = 0). For plain SGD (no momentum, no weight
  decay) the direction is the negative gradient; for any other optimizer it is the update a
  copy of the run's optimizer (its state included) takes at learning rate 1 from the gradient
  on the sharpness batch, one forward pass of the 10 (counted in critical_passes);
- ``density_steps``: the SLQ spectral density of the Hessian on the sharpness batch after
  those steps (0 = the initialization), ``density_probes`` x ``density_lanczos`` products each.

Every measurement draws from its own generator, so turning one on leaves lambda_t's random
starts as they were. Values after a divergence stay nan.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from phasebench.errors import ParameterError
from phasebench.hessian.critical import MAX_PASSES, critical_sharpness
from phasebench.hessian.density import slq
from phasebench.hessian.operator import HessianOperator
from phasebench.probe.problem import Problem

#: Seed offsets of the measurements' own random streams.
DENSITY_SEED_OFFSET = 7


def check_spectrum_options(config) -> None:
    """The spectrum fields of a configuration, checked before any work."""
    if not isinstance(config.top_k, int) or config.top_k < 1:
        raise ParameterError(f"top_k must be a positive integer, got {config.top_k!r}", "top_k")
    for what in ("density_probes", "density_lanczos"):
        value = getattr(config, what)
        if not isinstance(value, int) or value < 1:
            raise ParameterError(f"{what} must be a positive integer, got {value!r}", what)
    steps = config.density_steps
    if any(not isinstance(s, int) or not 0 <= s <= config.steps for s in steps):
        raise ParameterError(
            f"density_steps {list(steps)} must be steps from 0 to {config.steps}",
            "density_steps",
        )
    if len(set(steps)) != len(steps):
        raise ParameterError(f"density_steps {list(steps)} repeats a step", "density_steps")


def _plain_sgd(optimizer: torch.optim.Optimizer | None) -> bool:
    if optimizer is None:
        return True
    if type(optimizer) is not torch.optim.SGD:
        return False
    return all(
        not g.get("momentum", 0) and not g.get("weight_decay", 0) for g in optimizer.param_groups
    )


def update_direction(
    problem: Problem, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> torch.Tensor:
    """The step a copy of ``optimizer`` (its state included) takes at learning rate 1 from the
    gradient of the loss on the sharpness batch (eval mode): the update per unit learning rate.
    The model and the optimizer are not changed."""
    inputs, targets = problem.sharpness_batch()
    clone = copy.deepcopy(model)
    twin = problem.optimizer(clone, 1.0)
    twin.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    for group in twin.param_groups:
        group["lr"] = 1.0
    before = torch.cat([p.detach().reshape(-1) for p in clone.parameters()]).clone()
    clone.eval()
    twin.zero_grad(set_to_none=True)
    problem.loss(clone(inputs), targets).backward()
    twin.step()
    return torch.cat([p.detach().reshape(-1) for p in clone.parameters()]) - before


def critical_at(
    problem: Problem,
    model: torch.nn.Module,
    guess: float | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> tuple[float, int, bool]:
    """(lambda_c, forward passes, converged) on the sharpness batch along the optimizer's
    update (the negative gradient for plain SGD or when ``optimizer`` is None)."""
    inputs, targets = problem.sharpness_batch()
    direction, extra = None, 0
    if not _plain_sgd(optimizer):
        direction, extra = update_direction(problem, model, optimizer), 1
    found = critical_sharpness(
        model,
        problem.loss,
        inputs,
        targets,
        direction,
        eta=guess,
        dtype=problem.dtype,
        max_passes=MAX_PASSES - extra,
    )
    return float(found.value), int(found.forward_passes) + extra, bool(found.converged)


class SpectrumExtras:
    """The per-step spectrum arrays of one run; ``measure(t, model, result)`` after each
    step (and at t = 0, before training), ``fields()`` for the RunRecord."""

    def __init__(
        self,
        problem: Problem,
        steps: int,
        lambda0: float,
        top0: np.ndarray,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> None:
        config = problem.config
        self.problem = problem
        self.optimizer = optimizer
        self.top_k = np.zeros((0, 0))
        if config.top_k > 1:
            self.top_k = np.full((steps + 1, config.top_k), np.nan)
            self.top_k[0, : len(top0)] = top0
        self.critical = np.zeros(0)
        self.passes = np.zeros(0, np.int64)
        self.converged = np.zeros(0, bool)
        self.guess = 2.0 / lambda0 if lambda0 > 0 else None
        if config.critical:
            self.critical = np.full(steps + 1, np.nan)
            self.passes = np.zeros(steps + 1, np.int64)
            self.converged = np.zeros(steps + 1, bool)
        self.steps = sorted(config.density_steps)
        p, m = config.density_probes, config.density_lanczos
        d = len(self.steps)
        self.nodes, self.weights = np.full((d, p, m), np.nan), np.zeros((d, p, m))
        self.hvps = np.zeros(d, np.int64)
        self.trace, self.trace_error = np.full(d, np.nan), np.full(d, np.nan)
        self.generator = torch.Generator().manual_seed(config.seed + DENSITY_SEED_OFFSET)

    def measure(self, t: int, model: torch.nn.Module, result=None) -> None:
        """The measurements after step ``t``; ``result``: that step's estimate (t >= 1)."""
        if self.top_k.size and result is not None:
            values = list(result.eigenvalues)[: self.top_k.shape[1]]
            self.top_k[t, : len(values)] = values
        if self.critical.size:
            value, passes, converged = critical_at(self.problem, model, self.guess, self.optimizer)
            self.critical[t], self.passes[t], self.converged[t] = value, passes, converged
            if converged and math.isfinite(value) and value > 0:
                self.guess = 2.0 / value
        if t in self.steps:
            self._density(self.steps.index(t), model)

    def _density(self, index: int, model: torch.nn.Module) -> None:
        config = self.problem.config
        inputs, targets = self.problem.sharpness_batch()
        operator = HessianOperator(
            model, self.problem.loss, inputs, targets, dtype=self.problem.dtype
        )
        found = slq(
            operator, config.density_probes, config.density_lanczos, generator=self.generator
        )
        m = found.steps  # at most n
        self.nodes[index, :, :m], self.weights[index, :, :m] = found.nodes, found.weights
        self.hvps[index] = found.hvps
        self.trace[index], self.trace_error[index] = found.trace, found.trace_error

    def fields(self) -> dict[str, np.ndarray]:
        return {
            "sharpness_top_k": self.top_k,
            "critical_sharpness": self.critical,
            "critical_passes": self.passes,
            "critical_converged": self.converged,
            "density_step": np.asarray(self.steps, np.int64),
            "density_nodes": self.nodes,
            "density_weights": self.weights,
            "density_hvps": self.hvps,
            "density_trace": self.trace,
            "density_trace_error": self.trace_error,
        }


def warm_rows(vectors: torch.Tensor, k: int) -> torch.Tensor:
    """The next estimate's warm start: the top vector (n,) as before for k = 1, else the
    k vectors (k, n)."""
    return vectors[0] if k == 1 else vectors[:k]


def initial_spectrum(
    components,
    names: dict[str, str],
    options: dict[str, dict],
    examples: int = 2048,
    seed: int = 0,
    *,
    probes: int = 5,
    steps: int = 50,
    distribution: str = "rademacher",
    dtype: str = "float32",
    trace_products: int = 0,
    data_dir: str | None = None,
):
    """The SLQ spectral density of the Hessian of a freshly initialized model (what
    ``phasebench spectrum`` stores): ``names`` / ``options`` for model, dataset, init and loss
    as ``phasebench sharpness`` takes them, the first ``examples`` training examples, and
    ``trace_products`` > 0 adds a Hutch++ trace estimate. Returns a ``SpectrumRecord``."""
    import hashlib
    import json
    import time

    from phasebench.hessian.bench import initial_model
    from phasebench.hessian.hutchinson import hutch_plus_plus
    from phasebench.probe.provenance import provenance
    from phasebench.results.records import SpectrumRecord

    config = {
        **{
            field: {"name": names[field], "options": dict(options.get(field, {}))}
            for field in names
        },
        "examples": int(examples),
        "seed": int(seed),
        "dtype": dtype,
        "probes": int(probes),
        "lanczos_steps": int(steps),
        "distribution": distribution,
        "trace_products": int(trace_products),
    }
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    began = time.perf_counter()
    subject = initial_model(components, names, options, examples, seed, data_dir)
    operator = HessianOperator(
        subject.model, subject.loss, subject.inputs, subject.targets, dtype=dtype, seed=seed
    )
    found = slq(operator, probes, steps, distribution=distribution, seed=seed)
    hutchpp = None
    if trace_products:
        hutchpp = hutch_plus_plus(
            operator, trace_products, distribution=distribution, seed=seed + 1
        )
    return SpectrumRecord(
        spectrum_id=hashlib.sha256(canonical.encode()).hexdigest()[:16],
        config=config,
        parameters=int(operator.size),
        probes=found.probes,
        lanczos_steps=found.steps,
        distribution=distribution,
        nodes=found.nodes,
        weights=found.weights,
        hvps=int(found.hvps),
        top_eigenvalue=found.top,
        trace=found.trace,
        trace_error=found.trace_error,
        hutchpp_trace=math.nan if hutchpp is None else hutchpp.value,
        hutchpp_error=math.nan if hutchpp is None else hutchpp.error,
        hutchpp_products=0 if hutchpp is None else hutchpp.products,
        seconds=time.perf_counter() - began,
        provenance=provenance(operator.device),
    )
