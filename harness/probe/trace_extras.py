"""What a trace measures beside lambda_t at each measured step, each an opt-in ProbeConfig field
(the run's ``probe.curvature`` and ``probe.spectrum`` measurements, made at the trace's
measured steps, warm-started):

- ``per_layer``: the top eigenvalue of each layer's diagonal block (``parameter_blocks``) of
  the operator the trace measures (the Hessian, or P^-1/2 H P^-1/2 for an adaptive
  optimizer), each block's estimate warm-started from that block's previous eigenvector as
  lambda_t's is from its own. A block's product differentiates only that block's parameters
  (``trainable_only``), so it costs a fraction of a full one; ``layer_hvps`` counts them;
- ``smallest``: the smallest eigenvalue of that operator, by the estimator on 2 |lambda_t| I - A
  (shifted power iteration / Lanczos), warm-started from its previous vector;
- ``critical``: the critical sharpness 2 / eta_c along the optimizer's update on the sharpness
  batch (``spectrum.critical_at``), its first step 2 / the previous converged value (2 / lambda0
  at the start: at step 0 the run's value exactly).

They draw from their own generator (the run's extras' seed), so turning them on leaves the
trace's other arrays as they were. ``state()`` is what resuming needs (the warm vectors and the
generator), in the trace's checkpoint; a checkpoint without it restarts them cold and the trace
says so in its provenance (``extras_cold_at``). The critical search's first step is read back
from the stored rows.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from phasebench.errors import UsageError
from phasebench.probe.curvature import (
    layer_estimates,
    layer_names,
    measurement_generator,
    smallest_estimate,
    value_of,
)
from phasebench.probe.problem import Problem
from phasebench.probe.spectrum import critical_at

#: The seed offset of the extras' generator (the run's ``curvature.Extras`` use the same).
SEED_OFFSET = 2


class TraceExtras:
    """The opt-in measurements of one trace; ``row(...)`` measures one step and gives its
    values by TraceRecord array name."""

    def __init__(self, problem: Problem, model: torch.nn.Module, which: str, lambda0: float):
        config = problem.config
        self.problem, self.which = problem, which
        self.per_layer, self.smallest, self.critical = (
            bool(config.per_layer),
            bool(config.smallest),
            bool(config.critical),
        )
        self.layers = layer_names(model) if self.per_layer else []
        self.generator = measurement_generator(problem, SEED_OFFSET)
        self.layer_warm: list[torch.Tensor | None] = [None] * len(self.layers)
        self.smallest_warm: torch.Tensor | None = None
        self.lambda0 = float(lambda0)
        self.guess = 2.0 / lambda0 if lambda0 > 0 else None

    @property
    def any(self) -> bool:
        return self.per_layer or self.smallest or self.critical

    def blank(self) -> dict[str, Any]:
        """A row of a step not measured (diverged): nan values, no products."""
        out: dict[str, Any] = {}
        if self.per_layer:
            out.update(layer_sharpness=[math.nan] * len(self.layers), layer_hvps=0)
        if self.smallest:
            out.update(smallest=math.nan, smallest_hvps=0)
        if self.critical:
            out.update(critical_sharpness=math.nan, critical_passes=0, critical_converged=False)
        return out

    def row(self, model: torch.nn.Module, optimizer, top: float | None) -> dict[str, Any]:
        """This step's values; ``top``: lambda_t of the operator (None where it is not defined,
        the preconditioned one at initialization: its per-layer and smallest values are nan)."""
        out = self.blank()
        if self.critical:
            value, passes, converged = critical_at(self.problem, model, self.guess, optimizer)
            out.update(
                critical_sharpness=value, critical_passes=passes, critical_converged=converged
            )
            if converged and math.isfinite(value) and value > 0:
                self.guess = 2.0 / value
        if top is None:
            return out
        try:
            if self.per_layer:
                found = layer_estimates(
                    self.problem,
                    model,
                    self.generator,
                    which=self.which,
                    optimizer=optimizer,
                    warm=self.layer_warm,
                    vectors=True,
                )
                out["layer_sharpness"] = [value_of(r) for r in found]
                out["layer_hvps"] = int(sum(r.hvps for r in found))
                self.layer_warm = [
                    _vector(r, w) for r, w in zip(found, self.layer_warm, strict=True)
                ]
            if self.smallest:
                value, result = smallest_estimate(
                    self.problem,
                    model,
                    self.generator,
                    top,
                    which=self.which,
                    optimizer=optimizer,
                    warm=self.smallest_warm,
                    vectors=True,
                )
                out.update(smallest=value, smallest_hvps=int(result.hvps))
                self.smallest_warm = _vector(result, self.smallest_warm)
        except UsageError:
            if self.which != "preconditioned":
                raise
        return out

    # -- resuming --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "layer_warm": list(self.layer_warm),
            "smallest_warm": self.smallest_warm,
        }

    def restore(self, stored: dict[str, Any] | None, rows: dict[str, list]) -> bool:
        """Bring the extras to a checkpoint's ``stored`` state and the critical search's start
        to the last converged value in ``rows``; False when the checkpoint holds no state for
        measurements this trace makes (they restart cold)."""
        found = [
            v
            for v, ok in zip(
                rows.get("critical_sharpness", ()), rows.get("critical_converged", ()), strict=True
            )
            if ok and math.isfinite(v) and v > 0
        ]
        if found:
            self.guess = 2.0 / found[-1]
        if not (self.per_layer or self.smallest):
            return True
        if not stored:
            return False
        self.generator.set_state(stored["generator"])
        device = self.problem.device
        warm = stored.get("layer_warm") or []
        if len(warm) == len(self.layers):
            self.layer_warm = [None if w is None else w.to(device) for w in warm]
        small = stored.get("smallest_warm")
        self.smallest_warm = None if small is None else small.to(device)
        return True


def _vector(result, previous):
    """The next warm start of an estimate: its eigenvector, or the previous start when it gave
    none (or a non-finite one)."""
    vectors = getattr(result, "eigenvectors", None)
    if vectors is None:
        return previous
    vector = vectors[0] if vectors.ndim == 2 else vectors
    return vector.detach().clone() if bool(torch.isfinite(vector).all()) else previous
