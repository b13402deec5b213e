"""``phasebench.sharpness``: the top Hessian eigenvalue(s) of a loss for any ``nn.Module``.

Estimators are looked up by registered name through the plugin registry, so a plugin estimator
works exactly like a built-in one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from phasebench.errors import UsageError
from phasebench.hessian.estimation import WHICH, Traits, measure, traits_of
from phasebench.hessian.linear import SymmetricOperator
from phasebench.hessian.result import SharpnessResult
from phasebench.plugins import Components


def _components(components: Components | None) -> Components:
    if components is not None:
        return components
    from phasebench import plugins

    return plugins.components()


def resolve_loss(
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    components: Components | None = None,
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A registered loss name (made with its defaults) or the callable itself."""
    if isinstance(loss, str):
        return _components(components).load("loss", loss)()
    if not callable(loss):
        raise UsageError(
            f"loss must be a registered loss name or a callable (outputs, targets) -> scalar, "
            f"got {type(loss).__name__}"
        )
    return loss


def run_estimator(
    operator: SymmetricOperator,
    estimator: str = "lanczos",
    k: int = 1,
    *,
    warm_start: torch.Tensor | None = None,
    seed: int = 0,
    generator: torch.Generator | None = None,
    return_vectors: bool = False,
    options: Mapping[str, Any] | None = None,
    components: Components | None = None,
) -> SharpnessResult:
    """Run the registered ``estimator`` on an operator built by the caller: THE entry point of
    every estimate (the probe calls it after each step with the previous step's top
    eigenvector as ``warm_start``). ``options`` are merged into the registered defaults (an
    unknown one is an error); random starts come from ``generator``, else from a generator
    seeded with ``seed``. Checking k and ``which``, counting products, timing and the result
    are ``phasebench.hessian.estimation.measure``'s."""
    registration = _components(components).get("estimator", estimator)
    merged = registration.options(options)
    if generator is None:
        generator = torch.Generator().manual_seed(int(seed))
    return measure(
        registration.load(),
        operator,
        k,
        name=registration.name,
        warm_start=warm_start,
        generator=generator,
        return_vectors=return_vectors,
        options=merged,
    )


def estimator_traits(estimator: str, components: Components | None = None) -> Traits:
    """What the registered ``estimator`` declares (``@estimator``); for one of the original
    contract, which declares nothing: it finds what its ``which`` default says, else the
    largest eigenvalues, and is neither exact nor tunable into a reference."""
    registration = _components(components).get("estimator", estimator)
    declared = traits_of(registration.load())
    if declared is not None:
        return declared
    which = registration.defaults.get("which", "largest")
    return Traits(which=(which if which in WHICH else "largest",))


def adaptive_optimizer(name: Any, components: Components | None = None, *, ask: str) -> Any:
    """The registration of the adaptive optimizer ``name`` whose state defines P of the
    ``preconditioned`` operator; none, or one that declares no preconditioner
    (``phasebench.adaptive``), is one line ending with ``ask``, the fix in the caller's words
    (``--optimizer adam``, ``optimizer='adam'``)."""
    from phasebench import adaptive

    if name is None:
        raise UsageError(
            "the preconditioned operator P^-1/2 H P^-1/2 needs the adaptive optimizer whose "
            f"state defines P; pass {ask}"
        )
    registration = _components(components).get("optimizer", name)
    if adaptive.traits(registration.load()) is None:
        raise UsageError(
            f"optimizer {registration.name!r} declares no preconditioner, so P^-1/2 H P^-1/2 is "
            f"undefined; pass {ask} (or an optimizer declared with phasebench.adaptive.adaptive)"
        )
    return registration


def primed_optimizer(
    model: torch.nn.Module,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | Sequence[torch.Tensor],
    optimizer: str,
    options: Mapping[str, Any] | None = None,
    *,
    components: Components | None = None,
    ask: str = "optimizer='adam'",
) -> torch.optim.Optimizer:
    """The registered adaptive ``optimizer`` with ``options`` (its declared defaults merged
    in), made on ``model``'s parameters and primed at theta on (inputs, targets)
    (``phasebench.hessian.preconditioned.prime``, as the probe's ``lr_unit`` preconditioned
    primes it): its state defines P at theta. The model is left as it was."""
    from phasebench.hessian.preconditioned import prime

    registration = adaptive_optimizer(optimizer, components, ask=ask)
    made = registration.load()(model.parameters(), 1.0, **registration.options(options))
    return prime(made, model, loss, inputs, targets)


def sharpness(
    model: torch.nn.Module,
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | Sequence[torch.Tensor],
    estimator: str = "lanczos",
    k: int = 1,
    *,
    dtype: str | torch.dtype | None = None,
    mode: str = "eval",
    backend: str = "auto",
    warm_start: torch.Tensor | None = None,
    seed: int = 0,
    return_vectors: bool = False,
    components: Components | None = None,
    operator: str = "hessian",
    optimizer: str | torch.optim.Optimizer | None = None,
    optimizer_options: Mapping[str, Any] | None = None,
    block: str | Sequence[str] | None = None,
    **options: Any,
) -> SharpnessResult:
    """The k top eigenvalues of the Hessian of ``loss(model(inputs), targets)`` (or of another
    curvature ``operator``: ``ggn``, ``ntk``, ``preconditioned``; docs/curvature.md).

    ``loss``: a registered loss name ("mse", "xent") or any callable (outputs, targets) -> the
    scalar mean loss; ``targets`` must already be in the form it expects (one-hot for "mse").
    ``inputs``/``targets``: tensors, or equal-length sequences of batches (weighted by size:
    the Hessian of the mean over all examples). ``estimator``: a registered estimator name
    ("lanczos" default, "power", "exact", or a plugin's); ``options`` go to it (e.g.
    ``tol=1e-8``, ``max_iter=50``, ``which="magnitude"``). ``dtype``: "float32"/"float64"
    (default: the parameters'). ``mode``: "eval" (default) or "train" (BatchNorm batch
    statistics; dropout masks from ``seed``). ``backend``: "auto", "graph", "rev-rev",
    "fwd-rev" (the Hessian's). ``seed`` also seeds the estimator's random start.
    ``operator="preconditioned"``: lambda(P^-1/2 H P^-1/2) with P the ``optimizer``'s: a
    registered adaptive optimizer's name ("adam"; ``optimizer_options`` its options, e.g.
    ``{"gi": True}`` for GI-Adam), primed at theta from one gradient on (inputs, targets) in the
    model's dtype, the step undone (as the probe's ``lr_unit`` preconditioned); or an
    optimizer of ``model``'s parameters whose current state defines P. The model is not
    modified. ``block``: only that layer's (or parameter's) diagonal block of the operator
    (a name of ``phasebench.hessian.blocks.parameter_blocks(model)``, e.g. ``"0"`` or
    ``"0.weight"``); every layer's, the smallest eigenvalue and the critical sharpness:
    ``phasebench.hessian.beside_top`` and ``phasebench.hessian.critical``.
    """
    registry = _components(components)
    given_options = optimizer_options is not None
    if operator != "preconditioned" and (optimizer is not None or given_options):
        raise UsageError(
            f"optimizer defines P of operator 'preconditioned' only, not of {operator!r}; "
            "drop optimizer or pass operator='preconditioned'"
        )
    made = optimizer
    if operator == "preconditioned" and (optimizer is None or isinstance(optimizer, str)):
        made = primed_optimizer(
            model,
            resolve_loss(loss, registry),
            inputs,
            targets,
            optimizer,
            optimizer_options,
            components=registry,
        )
    elif given_options:
        raise UsageError(
            "optimizer_options go with a registered optimizer's name; an optimizer object "
            "carries its own options"
        )
    from phasebench.hessian.curvature import build_operator

    built = build_operator(
        operator,
        model,
        resolve_loss(loss, registry),
        inputs,
        targets,
        dtype=dtype,
        optimizer=made,
        block=block,
        mode=mode,
        backend=backend,
        seed=seed,
    )
    return run_estimator(
        built,
        estimator,
        k,
        warm_start=warm_start,
        seed=seed,
        return_vectors=return_vectors,
        options=options,
        components=registry,
    )
