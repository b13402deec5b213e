"""A trace's spectral density at chosen steps (``density_steps``): the SLQ quadrature
(``phasebench.hessian.density.slq``) of the operator the trace measures (the Hessian, or
P^-1/2 H P^-1/2 for an adaptive optimizer: ``build_operator``, as ``trace_extras``) on the
fixed sharpness batch, ``density_probes`` probe vectors of ``density_lanczos`` Lanczos steps
each, with the trace estimate n * its first moment and that estimate's standard error over the
probes (Hutchinson on the same probes).

A density step is any step from 0 to ``steps``, measured on its own: it need not be a measured
step (a multiple of ``every``), and it adds no row to the per-measurement arrays. It is taken of
the state after that many updates (the state a measurement there sees), after that step's
measurement when there is one, and before the trace is next handed to its sink, so that a
stored density is never taken again on resume. A step the trace does not reach (it diverged
first), or at which it diverged, has no density; for an adaptive optimizer P is defined from
step 1 on, so a density at step 0 is a row of nan nodes and zero weights.

The probes come from the density's own generator, seeded as the run's (``spectrum``'s
``DENSITY_SEED_OFFSET``): at step 0 of a trace measuring the Hessian the density is the run's
density at step 0, bit for bit; turning it on leaves every other array of the trace as it was.
``state()`` is what resuming needs (the generator), in the trace's checkpoint.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from phasebench.errors import UsageError
from phasebench.hessian.curvature import build_operator
from phasebench.hessian.density import slq
from phasebench.probe.problem import Problem
from phasebench.probe.spectrum import DENSITY_SEED_OFFSET

#: The key of the density's state in the trace checkpoint's ``extras``.
STATE_KEY = "density"


class TraceDensity:
    """The densities of one trace: ``due(t)`` says whether step t wants one not yet taken,
    ``take(t, model, optimizer)`` measures it and gives its values by TraceRecord array name
    (one row of each ``density_*`` array)."""

    def __init__(self, problem: Problem, which: str) -> None:
        config = problem.config
        self.problem, self.which = problem, which
        self.steps = sorted(config.density_steps)
        self.probes, self.lanczos = int(config.density_probes), int(config.density_lanczos)
        self.generator = torch.Generator().manual_seed(config.seed + DENSITY_SEED_OFFSET)

    @property
    def any(self) -> bool:
        return bool(self.steps)

    @property
    def shape(self) -> tuple[int, int]:
        """(probes, Lanczos steps): a row of ``density_nodes`` / ``density_weights``."""
        return (self.probes, self.lanczos) if self.any else (0, 0)

    def due(self, t: int, taken: list[int]) -> bool:
        return t in self.steps and t not in taken

    def blank(self, t: int) -> dict[str, Any]:
        """The row of a density that is not defined (nan nodes, zero weights, no products)."""
        return {
            "density_step": t,
            "density_nodes": np.full(self.shape, np.nan).tolist(),
            "density_weights": np.zeros(self.shape).tolist(),
            "density_hvps": 0,
            "density_trace": math.nan,
            "density_trace_error": math.nan,
        }

    def take(self, t: int, model: torch.nn.Module, optimizer) -> dict[str, Any]:
        """The density after step ``t`` of the operator at ``model`` (``optimizer``: the one
        whose state defines P, for ``preconditioned``)."""
        problem = self.problem
        inputs, targets = problem.sharpness_batch()
        try:
            operator = build_operator(
                self.which,
                model,
                problem.loss,
                inputs,
                targets,
                dtype=problem.dtype,
                optimizer=optimizer,
            )
        except UsageError:
            if self.which != "preconditioned":
                raise
            return self.blank(t)  # P is defined after the first step
        found = slq(operator, self.probes, self.lanczos, generator=self.generator)
        out = self.blank(t)
        nodes, weights = np.asarray(out["density_nodes"]), np.asarray(out["density_weights"])
        nodes[:, : found.steps], weights[:, : found.steps] = found.nodes, found.weights
        out.update(
            density_nodes=nodes.tolist(),
            density_weights=weights.tolist(),
            density_hvps=int(found.hvps),
            density_trace=float(found.trace),
            density_trace_error=float(found.trace_error),
        )
        return out

    # -- resuming --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def restore(self, stored: dict[str, Any] | None) -> bool:
        """Bring the generator to a checkpoint's ``stored`` state; False when it holds none
        (the densities still to take restart cold)."""
        if not self.any:
            return True
        if not stored or STATE_KEY not in stored:
            return False
        self.generator.set_state(stored[STATE_KEY]["generator"])
        return True
