"""The estimator benchmark: every estimator on a model's Hessian against a reference.

``initial_model`` builds what ``phasebench sharpness`` and ``phasebench bench`` measure: a
registered model, freshly initialized from a seed, with the first examples of a registered
dataset encoded for a registered loss. ``bench_rows`` runs each estimator on one operator and
compares it with ``reference``: an estimator that declares itself exact
(``@estimator(exact=True)``) where it fits, else one that declares a tolerance and a budget,
tightened to a relative residual of 1e-10. Which eigenvalues each estimator finds (and so which
reference it is compared with) is what it declares, never its name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from phasebench.errors import UsageError
from phasebench.hessian.api import estimator_traits, run_estimator
from phasebench.hessian.linear import SymmetricOperator
from phasebench.hessian.result import SharpnessResult
from phasebench.plugins import Components

#: The relative residual a tightened reference is run to, and its most products.
REFERENCE_TOL = 1e-10
REFERENCE_BUDGET = 400
#: ProbeConfig field -> registry kind of what ``initial_model`` builds from.
SUBJECT_KINDS = {"model": "model", "dataset": "dataset", "init": "initialization", "loss": "loss"}


@dataclass(frozen=True)
class InitialModel:
    """A freshly initialized model and the batch its sharpness is measured on."""

    model: torch.nn.Module
    loss: Any
    inputs: torch.Tensor
    targets: torch.Tensor


def initial_model(
    components: Components,
    names: Mapping[str, str],
    options: Mapping[str, Mapping[str, Any]],
    examples: int,
    seed: int,
    data_dir: str | None = None,
) -> InitialModel:
    """The model ``names["model"]`` initialized by ``names["init"]`` from
    ``torch.Generator().manual_seed(seed)``, and the first ``examples`` training examples of
    ``names["dataset"]`` with targets encoded for ``names["loss"]``; ``options`` per field."""
    if examples < 1:
        raise UsageError(f"examples must be at least 1, got {examples}")
    regs = {field: components.get(kind, names[field]) for field, kind in SUBJECT_KINDS.items()}
    given = {field: regs[field].options(options.get(field)) for field in regs}
    split = regs["dataset"].load()("train", data_dir=data_dir, **given["dataset"])
    net = regs["model"].load()(split.input_shape, split.num_classes, **given["model"])
    net = regs["init"].load()(net, torch.Generator().manual_seed(int(seed)), **given["init"])
    loss_fn = regs["loss"].load()(**given["loss"])
    targets = loss_fn.encode_targets(split.labels[:examples], split.num_classes)
    return InitialModel(net, loss_fn, split.inputs[:examples], targets)


def component_label(name: str, options: Mapping[str, Any]) -> str:
    """``fcn`` or ``fcn:width=64,depth=3``: a component and the options it was given."""
    if not options:
        return name
    shown = (f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in options.items())
    return f"{name}:{','.join(shown)}"


def relative_errors(values: Sequence[float], reference: Sequence[float]) -> tuple[float, float]:
    """(|l1 - r1| / |r1|, max_i |li - ri| / |ri|) over the eigenvalues both have; the second is
    infinite when ``values`` has fewer than ``reference``."""

    def rel(a: float, b: float) -> float:
        return abs(a - b) / abs(b) if b != 0 else abs(a - b)

    pairs = list(zip(values, reference, strict=False))
    top = rel(*pairs[0])
    worst = max(rel(a, b) for a, b in pairs)
    if len(values) < len(reference):
        worst = float("inf")
    return top, worst


def reference(
    components: Components,
    operator: SymmetricOperator,
    k: int,
    which: str,
    exact: bool = True,
) -> tuple[str, SharpnessResult]:
    """(label, result) of the best reference for ``which``: the first exact estimator that
    finds it and does not refuse (none when ``exact`` is false: it would take too long),
    else the first tightened one that converges (by name)."""
    names = components.registry("estimator").names()
    traits = {name: estimator_traits(name, components) for name in names}
    for name in names:
        if exact and traits[name].exact and which in traits[name].which:
            options = {"which": which} if len(traits[name].which) > 1 else {}
            try:
                return name, run_estimator(
                    operator, name, k, options=options, components=components
                )
            except UsageError:  # refused (too big): try the next kind of reference
                continue
    fallback: tuple[str, SharpnessResult] | None = None
    for name in names:
        t = traits[name]
        if t.tolerance is None or t.budget is None or which not in t.which:
            continue
        options: dict[str, Any] = {
            t.tolerance: REFERENCE_TOL,
            t.budget: min(operator.size, REFERENCE_BUDGET),
        }
        if len(t.which) > 1:
            options["which"] = which
        result = run_estimator(operator, name, k, options=options, components=components)
        label = f"{name}({t.tolerance}={REFERENCE_TOL:g})"
        if result.converged:
            return label, result
        fallback = fallback or (f"{label}, not converged", result)
    if fallback is None:
        raise UsageError(
            f"no registered estimator can be the reference for which={which!r}: none is "
            "exact and fits, and none declares a tolerance and a budget"
        )
    return fallback


def too_long(seconds: float, max_seconds: float | None) -> bool:
    return max_seconds is not None and seconds > max_seconds


def bench_rows(
    components: Components,
    operator: SymmetricOperator,
    label: str,
    estimators: Sequence[str],
    k: int,
    seed: int = 0,
    max_seconds: float | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> list[dict[str, Any]]:
    """One row per estimator on ``operator`` (the model ``label``): its products, time, errors
    against the reference for what it finds, and convergence; a refusal is a row that says
    why (``skipped``). An exact estimator (or reference) whose n products and eigh would take
    over ``max_seconds`` here is refused, the estimate in the row; ``say`` hears a line before
    each estimator runs and after (progress)."""
    from phasebench.hessian.timing import estimator_seconds, product_seconds

    getattr(operator, "backend", None)  # calibrate outside every estimator's wall time
    per_product = product_seconds(operator)
    device = getattr(operator, "device", None)

    def cost(name: str) -> tuple[float, int]:
        return estimator_seconds(name, operator.size, k, per_product, components, device=device)

    def slow(name: str) -> str | None:
        seconds, products = cost(name)
        if not too_long(seconds, max_seconds):
            return None
        assert max_seconds is not None
        return (
            f"{name} would take about {_minutes(seconds)} here ({products:,} products at "
            f"{per_product * 1e3:.3g} ms and eigh), over the limit of {_minutes(max_seconds)}"
        )

    exact_ok = all(
        slow(n) is None
        for n in components.registry("estimator").names()
        if estimator_traits(n, components).exact
    )
    references: dict[str, tuple[str, SharpnessResult]] = {}
    rows: list[dict[str, Any]] = []
    for name in estimators:
        which = estimator_traits(name, components).finds(components.get("estimator", name).defaults)
        if which not in references:
            say(f"{label} ({operator.size:,} parameters): the reference for {which}")
            references[which] = reference(components, operator, k, which, exact=exact_ok)
        ref_name, ref = references[which]
        refused = slow(name) if estimator_traits(name, components).exact else None
        if refused is not None:
            say(f"{label}: {name} refused: {refused}")
            rows.append(
                {"model": label, "parameters": operator.size, "estimator": name, "skipped": refused}
            )
            continue
        seconds, products = cost(name)
        about = f", about {_minutes(seconds)}" if seconds == seconds else ""
        say(f"{label}: {name} (budget {products:,} products{about})")
        try:
            result = run_estimator(operator, name, k, seed=seed, components=components)
        except UsageError as exc:  # e.g. exact refusing: a row that says so
            rows.append(
                {
                    "model": label,
                    "parameters": operator.size,
                    "estimator": name,
                    "skipped": str(exc),
                }
            )
            continue
        say(f"{label}: {name} done in {result.wall_time:.3g} s, {result.hvps} products")
        top, topk = relative_errors(result.eigenvalues, ref.eigenvalues)
        rows.append(
            {
                "model": label,
                "parameters": operator.size,
                "estimator": name,
                "reference": ref_name,
                "which": which,
                "hvps": result.hvps,
                "wall_time": result.wall_time,
                "rel_err_max": top,
                "rel_err_topk": topk,
                "converged": result.converged,
                "backend": result.backend,
                "eigenvalues": list(result.eigenvalues),
                "reference_eigenvalues": list(ref.eigenvalues),
            }
        )
    return rows


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
