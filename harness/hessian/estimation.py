"""The one way an estimator is called: ``measure(estimate, operator, k, ...)``.

``measure`` owns what every estimator shares, so an estimator holds only its algorithm:

- before: ``1 <= k <= n``; a ``which`` option among the eigenvalues the estimator declares it
  can find; the call itself matches the contract (a wrong signature is one line naming the
  estimator, not a ``TypeError`` from inside);
- around: the products (``operator.hvps`` after minus before) and the wall time;
- after: the result is checked (1 to k eigenvalues, as many residuals, vectors of shape
  ``(j, n)`` if any) and completed with the products, time, registered name and backend. A
  result with a non-finite eigenvalue is never ``converged``.

Two estimator contracts are accepted (docs/plugins.md, ``register_estimators``):

- the recommended one: ``estimate(operator, request, **options)`` decorated with
  ``@estimator(which=..., ...)``, which returns an ``Estimate`` (eigenvalues, converged,
  residuals, eigenvectors, iterations) and nothing else; ``request`` is a ``Request`` (k,
  warm_start, generator, return_vectors), so what a call asks can grow without touching
  every estimator's signature;
- the original one: an undecorated ``estimate(operator, k=1, warm_start=None,
  generator=None, return_vectors=False, **options)`` returning a full ``SharpnessResult``. It
  keeps working unchanged; its ``hvps``, ``wall_time``, ``estimator`` and ``backend`` are
  replaced by what ``measure`` counted and knows.

``phasebench.hessian.api.run_estimator`` (by registered name) and through it the probe,
``phasebench.sharpness``, the ``sharpness`` and ``bench`` commands and the conformance kit all
call ``measure``.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phasebench.errors import PluginError, UsageError
from phasebench.hessian.result import SharpnessResult
from phasebench.hessian.vectors import check_k

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from phasebench.hessian.linear import SymmetricOperator

#: What ``which`` can ask for: the largest algebraic, the largest in magnitude, the smallest.
WHICH = ("largest", "magnitude", "smallest")
#: The attribute ``@estimator`` sets on the function it decorates.
TRAITS_ATTRIBUTE = "phasebench_estimator"
#: The keyword arguments every estimator is called with, besides its options.
CALL = ("k", "warm_start", "generator", "return_vectors")


@dataclass(frozen=True)
class Request:
    """What one call asks of an estimator: ``k`` eigenvalues; start from ``warm_start`` (None,
    or unit vectors ``(n,)`` / ``(j, n)``: the previous step's eigenvectors during a probe);
    draw random starts from ``generator``; return the eigenvectors when ``return_vectors``."""

    k: int = 1
    warm_start: torch.Tensor | None = None
    generator: torch.Generator | None = None
    return_vectors: bool = False

    def starts(self, operator: SymmetricOperator, count: int | None = None) -> list[torch.Tensor]:
        """``count`` (default k) unit start vectors: the warm start's rows, then Gaussian ones."""
        from phasebench.hessian.vectors import start_vectors

        return start_vectors(
            operator,  # type: ignore[arg-type]
            self.k if count is None else count,
            self.warm_start,
            self.generator,
        )


@dataclass(frozen=True)
class Estimate:
    """What an estimator's algorithm found: the eigenvalues best first (at most k), whether its
    stopping rule was met, the residual ||H v - lambda v|| of each pair, the ``(j, n)`` unit
    eigenvectors when asked for (else None) and its iteration count."""

    eigenvalues: tuple[float, ...]
    converged: bool
    residuals: tuple[float, ...]
    eigenvectors: torch.Tensor | None = None
    iterations: int = 0


@dataclass(frozen=True)
class Traits:
    """What an estimator declares about itself (``@estimator(...)``).

    ``which``: the eigenvalues it can find, from ``WHICH``; the first is what it finds when its
    options do not say (an estimator with more than one takes a ``which`` option). ``exact``:
    its eigenvalues are exact up to rounding (the ``bench`` reference wherever it fits).
    ``tolerance``: the option bounding its relative residual, and ``budget``: the option capping
    its products (with both, ``bench`` can tighten it into the reference where no exact
    estimator fits).
    """

    which: tuple[str, ...] = ("largest",)
    exact: bool = False
    tolerance: str | None = None
    budget: str | None = None

    def __post_init__(self) -> None:
        if not self.which or any(w not in WHICH for w in self.which):
            raise ValueError(f"which must be a non-empty tuple of {', '.join(WHICH)}")

    def finds(self, options: Mapping[str, Any]) -> str:
        """Which eigenvalues a call with these options finds."""
        if len(self.which) > 1:
            return str(options.get("which", self.which[0]))
        return self.which[0]


def best_first(values: torch.Tensor, k: int, which: str) -> torch.Tensor:
    """Indices of the k wanted eigenvalues among ``values``, best first: the largest
    (algebraic), the largest in magnitude, or the smallest."""
    import torch

    if which == "largest":
        order = torch.argsort(values, descending=True)
    elif which == "smallest":
        order = torch.argsort(values)
    else:
        order = torch.argsort(values.abs(), descending=True)
    return order[:k]


def estimator(
    *,
    which: tuple[str, ...] = ("largest",),
    exact: bool = False,
    tolerance: str | None = None,
    budget: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an estimator function ``estimate(operator, request, **options) -> Estimate``
    (``request``: a ``Request``); ``measure`` does the rest (k, which, counting, timing, the
    result). See ``Traits`` for the arguments."""
    traits = Traits(tuple(which), exact, tolerance, budget)

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, TRAITS_ATTRIBUTE, traits)
        return fn

    return mark


def traits_of(fn: Any) -> Traits | None:
    """The traits an estimator declared with ``@estimator``; None for one of the original
    contract (it returns a ``SharpnessResult`` and declares nothing)."""
    traits = getattr(fn, TRAITS_ATTRIBUTE, None)
    return traits if isinstance(traits, Traits) else None


def check_call(fn: Any, name: str, options: Mapping[str, Any], declared: bool) -> None:
    """The estimator takes ``(operator, request, **options)`` (declared with ``@estimator``)
    or ``(operator, k=, warm_start=, generator=, return_vectors=, **options)`` (the original
    contract); else a one-line PluginError naming it."""
    if not callable(fn):
        raise PluginError(f"estimator {name!r} is a {type(fn).__name__}, not a callable")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return
    try:
        if declared:
            signature.bind(None, None, **dict(options))
        else:
            signature.bind(None, **dict.fromkeys(CALL), **dict(options))
    except TypeError as exc:
        expected = (
            "estimate(operator, request, **options)"
            if declared
            else "estimate(operator, k=, warm_start=, generator=, return_vectors=, **options)"
        )
        raise PluginError(
            f"estimator {name!r} cannot be called as {expected}: {exc}; its signature is "
            f"{name}{signature}"
        ) from None


def check_which(traits: Traits | None, name: str, options: Mapping[str, Any]) -> None:
    if traits is None or "which" not in options:
        return
    if options["which"] not in traits.which:
        raise UsageError(
            f"estimator {name!r}: unknown which={options['which']!r}; use one of "
            f"{', '.join(traits.which)}"
        )


def measure(
    estimate: Callable[..., Any],
    operator: SymmetricOperator,
    k: int = 1,
    *,
    name: str,
    warm_start: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    return_vectors: bool = False,
    options: Mapping[str, Any] | None = None,
) -> SharpnessResult:
    """Call ``estimate`` on ``operator`` and return its checked, complete ``SharpnessResult``."""
    options = dict(options or {})
    check_k(operator, k)
    traits = traits_of(estimate)
    check_which(traits, name, options)
    check_call(estimate, name, options, declared=traits is not None)
    request = Request(k, warm_start, generator, bool(return_vectors))
    before = operator.hvps
    began = _now(operator)
    if traits is not None:
        found = estimate(operator, request, **options)
    else:  # the original contract
        found = estimate(
            operator,
            k=request.k,
            warm_start=request.warm_start,
            generator=request.generator,
            return_vectors=request.return_vectors,
            **options,
        )
    seconds = _now(operator) - began
    hvps = operator.hvps - before
    return complete(found, name, operator, k, hvps, seconds)


def complete(
    found: Any,
    name: str,
    operator: SymmetricOperator,
    k: int,
    hvps: int,
    seconds: float,
) -> SharpnessResult:
    """Check what an estimator returned and make it a full ``SharpnessResult``."""
    if isinstance(found, SharpnessResult):  # the original contract
        found = Estimate(
            tuple(found.eigenvalues),
            bool(found.converged),
            tuple(found.residuals),
            found.eigenvectors,
            int(found.iterations),
        )
    elif not isinstance(found, Estimate):
        raise UsageError(
            f"estimator {name!r} returned {type(found).__name__}, not an Estimate or a "
            "SharpnessResult"
        )
    values = tuple(float(x) for x in found.eigenvalues)
    if not 1 <= len(values) <= k:
        raise UsageError(f"estimator {name!r} returned {len(values)} eigenvalues for k={k}")
    if len(found.residuals) != len(values):
        raise UsageError(
            f"estimator {name!r} returned {len(found.residuals)} residuals for "
            f"{len(values)} eigenvalues"
        )
    vectors = found.eigenvectors
    if vectors is not None:  # None when asked for is tolerated: the probe then starts cold
        shape = tuple(getattr(vectors, "shape", ()))
        if shape != (len(values), operator.size):
            raise UsageError(
                f"estimator {name!r} returned eigenvectors of shape {shape}, expected "
                f"({len(values)}, {operator.size})"
            )
    finite = all(math.isfinite(v) for v in values)
    return SharpnessResult(
        eigenvalues=values,
        hvps=int(hvps),
        converged=bool(found.converged) and finite,
        residuals=tuple(float(r) for r in found.residuals),
        wall_time=float(seconds),
        estimator=name,
        backend=str(getattr(operator, "backend", "")),
        eigenvectors=vectors,
        iterations=int(found.iterations),
    )


def _now(operator: Any) -> float:
    device = getattr(operator, "device", None)
    if getattr(device, "type", None) == "cuda":
        import torch

        torch.cuda.synchronize(device)
    return time.perf_counter()
