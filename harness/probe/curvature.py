"""What the probe measures beside lambda_t: the learning-rate unit, per-layer sharpness and the
smallest eigenvalue, each through ``build_operator`` and ``run_estimator``.

- ``unit_sharpness``: lambda_unit(theta_0) for ``lr_unit`` (``phasebench.probe.units``), the one
  place a new unit (critical sharpness) plugs in.
- ``layer_sharpness``: the top eigenvalue of each layer's diagonal Hessian block, one
  estimate per layer with the configured estimator.
- ``primed_optimizer``: the optimizer whose state defines the ``preconditioned`` unit's P.
- ``smallest_eigenvalue``: the smallest Hessian eigenvalue, by the configured estimator on the
  shifted operator 2 |lambda_t| I - H (shifted power iteration / Lanczos).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from phasebench.errors import UsageError
from phasebench.hessian.api import run_estimator
from phasebench.hessian.beside_top import smallest_of
from phasebench.hessian.blocks import parameter_blocks
from phasebench.hessian.curvature import build_operator
from phasebench.hessian.preconditioned import prime
from phasebench.probe.problem import Problem
from phasebench.probe.units import check_lr_unit


def _estimate(problem: Problem, operator, generator, warm=None, vectors: bool = False):
    """The top eigenpair by the configured estimator with its options (``warm``: a start
    vector, else a random one from ``generator``; ``vectors``: return the eigenvector)."""
    name = problem.config.estimator.name
    options = problem.config.estimator.opts()
    return run_estimator(
        operator,
        name,
        1,
        warm_start=warm,
        generator=generator,
        return_vectors=vectors,
        options=options,
        components=problem.components,
    )


def value_of(result) -> float:
    """An estimate's top eigenvalue, nan where it did not converge (never used as one)."""
    value = float(result.lambda_max)
    return value if result.converged and math.isfinite(value) else math.nan


def unit_sharpness(problem: Problem, model: torch.nn.Module, generator) -> tuple[float, int, bool]:
    """lambda_unit(theta) for the config's lr_unit: (value, products, converged)."""
    unit = check_lr_unit(problem.config.lr_unit)
    if unit == "critical":  # a line search of forward passes (counted as products), no HVP
        from phasebench.probe.spectrum import critical_at

        return critical_at(problem, model)
    inputs, targets = problem.sharpness_batch()
    optimizer = primed_optimizer(problem, model) if unit == "preconditioned" else None
    operator = build_operator(
        unit, model, problem.loss, inputs, targets, dtype=problem.dtype, optimizer=optimizer
    )
    result = _estimate(problem, operator, generator)
    return float(result.lambda_max), int(result.hvps), bool(result.converged)


def primed_optimizer(problem: Problem, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The configured optimizer after one step on the sharpness batch's gradient at theta,
    with theta put back (``phasebench.hessian.preconditioned.prime``): its state (Adam's v) is
    then what defines its preconditioner P at theta (``lr_unit`` preconditioned)."""
    inputs, targets = problem.sharpness_batch()
    return prime(problem.optimizer(model, 1.0), model, problem.loss, inputs, targets)


def layer_names(model: torch.nn.Module) -> list[str]:
    return [name for name, _ in parameter_blocks(model)]


def layer_estimates(
    problem: Problem,
    model: torch.nn.Module,
    generator,
    *,
    which: str = "hessian",
    optimizer=None,
    warm: list | None = None,
    vectors: bool = False,
) -> list:
    """Each layer's estimate of the top eigenvalue of its diagonal block of the ``which``
    operator (``build_operator``'s; ``preconditioned`` needs the ``optimizer``), in
    ``parameter_blocks`` order. ``warm``: a start vector per layer (None in it: a random
    start); ``vectors``: the results carry their eigenvectors."""
    inputs, targets = problem.sharpness_batch()
    out = []
    for i, (_, names) in enumerate(parameter_blocks(model)):
        operator = build_operator(
            which,
            model,
            problem.loss,
            inputs,
            targets,
            dtype=problem.dtype,
            optimizer=optimizer,
            block=names,
        )
        start = None if warm is None else warm[i]
        out.append(_estimate(problem, operator, generator, start, vectors))
    return out


def layer_sharpness(problem: Problem, model: torch.nn.Module, generator) -> np.ndarray:
    """(B,) the top eigenvalue of each layer's diagonal Hessian block (nan where the estimate
    did not converge: an unconverged value is never used as one)."""
    return np.asarray([value_of(r) for r in layer_estimates(problem, model, generator)], float)


def smallest_estimate(
    problem: Problem,
    model: torch.nn.Module,
    generator,
    top: float | None = None,
    *,
    which: str = "hessian",
    optimizer=None,
    warm=None,
    vectors: bool = False,
):
    """(the smallest eigenvalue of the ``which`` operator, nan when the estimate did not
    converge; the estimate of the shifted operator, with its vector if ``vectors``), by the
    configured estimator on s I - A with s = 2 |lambda_max| (``top``, or measured here): its
    top eigenvalue is s - lambda_min, found to a tolerance relative to the whole spectrum's
    spread, so a smallest eigenvalue of 0 converges too."""
    inputs, targets = problem.sharpness_batch()
    operator = build_operator(
        which, model, problem.loss, inputs, targets, dtype=problem.dtype, optimizer=optimizer
    )
    if top is None or not math.isfinite(top):
        top = float(_estimate(problem, operator, generator).lambda_max)
    return smallest_of(
        operator, top, lambda shifted: _estimate(problem, shifted, generator, warm, vectors)
    )


def smallest_eigenvalue(
    problem: Problem, model: torch.nn.Module, generator, top: float | None = None
) -> float:
    """The smallest Hessian eigenvalue (nan when the estimate did not converge); see
    ``smallest_estimate``."""
    return smallest_estimate(problem, model, generator, top)[0]


def measurement_generator(problem: Problem, offset: int) -> torch.Generator:
    """The random starts of these measurements: their own stream, so that turning them on
    leaves the draws of lambda_t's estimates as they were."""
    return torch.Generator(device=problem.device).manual_seed(problem.config.seed + offset)


def at_start(problem: Problem, model: torch.nn.Module, lambda0: float) -> dict:
    """The ScanRecord fields measured at theta_0 beside lambda0: the unit lambda_unit (lambda0
    itself for ``hessian``), and, when asked for, the layers' sharpness and the smallest
    eigenvalue. A unit that is not positive or did not converge is an error: eta would be
    undefined."""
    config = problem.config
    value, converged = lambda0, True
    if config.lr_unit != "hessian":
        value, _, converged = unit_sharpness(problem, model, measurement_generator(problem, 0))
    if not (value > 0 and converged and math.isfinite(value)):
        raise UsageError(
            f"lambda_{config.lr_unit} at initialization is {value:.3g}"
            f"{'' if converged else ' (not converged)'}, so eta = c / lambda_{config.lr_unit} "
            "is undefined; check the model and loss, or use lr_unit hessian"
        )
    extras = measurement_generator(problem, 2)
    return {
        "lr_unit": config.lr_unit,
        "lambda_unit": float(value),
        "layers": layer_names(model) if config.per_layer else [],
        "layer_lambda0": layer_sharpness(problem, model, extras)
        if config.per_layer
        else np.zeros(0),
        "smallest0": smallest_eigenvalue(problem, model, extras, lambda0)
        if config.smallest
        else math.nan,
    }


class Extras:
    """The per-step arrays of the optional measurements of one run."""

    def __init__(self, problem: Problem, steps: int, scan) -> None:
        config = problem.config
        self.problem = problem
        self.generator = measurement_generator(problem, 2)
        self.layers = np.zeros((0, 0))
        self.smallest = np.zeros(0)
        if config.per_layer:
            self.layers = np.full((steps + 1, len(scan.layers)), np.nan)
            self.layers[0] = scan.layer_lambda0
        if config.smallest:
            self.smallest = np.full(steps + 1, np.nan)
            self.smallest[0] = scan.smallest0

    def measure(self, t: int, model: torch.nn.Module, top: float) -> None:
        """Step t's measurements; ``top`` is lambda_t (the shift of the smallest's operator)."""
        if self.layers.size:
            self.layers[t] = layer_sharpness(self.problem, model, self.generator)
        if self.smallest.size:
            self.smallest[t] = smallest_eigenvalue(self.problem, model, self.generator, top)

    def fields(self) -> dict[str, np.ndarray]:
        return {"layer_sharpness": self.layers, "smallest": self.smallest}
