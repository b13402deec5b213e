"""Conformance checks for phasebench components: what a plugin author runs on a plugin.

Every kind of component has a contract (``phasebench.hookspecs``, ``docs/plugins.md``); the
checks here exercise it on tiny inputs and raise :class:`ConformanceError` (an
``AssertionError``, so pytest shows it as a failed assertion) naming the component and the
broken promise. The built-in components pass them; ``tests/test_conformance.py`` proves it.

Entry points:

- ``check_component(kind, name, components=None, options=None, models=None) -> str``: check one
  registered component; returns ``"passed"`` or ``"skipped: <why>"`` (a dataset whose files are
  not on this machine), raises :class:`ConformanceError` on a violation.
- ``check_plugin(plugin) -> PluginReport``: load one plugin (an installed entry-point name, a
  module, or an importable module name) next to the built-ins and check everything it
  registers; initializations are also run on the plugin's own models.
- ``parametrize_components(kinds=None, plugin=None)``: a ``pytest.mark.parametrize`` over
  ``(kind, name)`` of the registered components, for a plugin's own test suite.
- ``python -m phasebench.testing [PLUGIN ...]``: check installed plugins by entry-point name
  (default: every one), exit 1 on any failure.

Nothing is downloaded: datasets load with ``PHASEBENCH_OFFLINE=1``. Importing this module does
not import torch; the checks do, when they run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

from phasebench import plugins
from phasebench.errors import DataError, PhasebenchError, UsageError
from phasebench.plugins import ENTRY_POINT_GROUP, Components, load_components
from phasebench.registry import KINDS, Registration

if TYPE_CHECKING:  # pragma: no cover
    import pytest
    import torch
    from torch import nn

__all__ = [
    "ConformanceError",
    "CheckResult",
    "PluginReport",
    "MODEL_INPUT_SHAPES",
    "check_component",
    "check_dataset",
    "check_estimator",
    "check_executor",
    "check_initialization",
    "check_loss",
    "check_model",
    "check_optimizer",
    "check_plugin",
    "check_registrations",
    "parametrize_components",
    "main",
]

#: The example shapes a model is built for, in order; at least one must work.
MODEL_INPUT_SHAPES: tuple[tuple[int, ...], ...] = ((1, 28, 28), (3, 32, 32), (8,))
NUM_OUTPUTS = 3
PASSED = "passed"


class ConformanceError(AssertionError):
    """A component breaks its contract; the message names the component and the promise."""


def _require(condition: bool, label: str, message: str) -> None:
    if not condition:
        raise ConformanceError(f"{label}: {message}")


@contextlib.contextmanager
def _global_rng_kept() -> Iterator[None]:
    """Whatever the check draws from torch's global RNG, the caller's stream is restored."""
    import torch

    with torch.random.fork_rng(devices=[]):
        yield


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# ----------------------------------------------------------------------------------- models
def _build_model(
    build: Callable[..., Any], options: Mapping[str, Any], label: str
) -> tuple[nn.Module, tuple[int, ...]]:
    """The model for the first of MODEL_INPUT_SHAPES it accepts (UsageError: try the next)."""
    refused: list[str] = []
    for shape in MODEL_INPUT_SHAPES:
        try:
            model = build(shape, NUM_OUTPUTS, **options)
        except UsageError as exc:
            refused.append(f"{shape}: {_first_line(exc)}")
            continue
        except Exception as exc:
            raise ConformanceError(
                f"{label}: build({shape}, {NUM_OUTPUTS}) raised {_first_line(exc)}; a model "
                "raises phasebench.errors.UsageError for inputs or options it cannot take"
            ) from exc
        return model, shape
    raise ConformanceError(
        f"{label}: builds for none of the input shapes {list(MODEL_INPUT_SHAPES)} "
        f"({'; '.join(refused)})"
    )


def check_model(
    build: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "model"
) -> str:
    """``build(input_shape, num_outputs, **options)`` gives an ``nn.Module`` with trainable
    parameters mapping a batch (N, *input_shape) to finite outputs (N, num_outputs) that
    gradients flow through. Tried on MODEL_INPUT_SHAPES in order; a UsageError for a shape
    is acceptable, but at least one must build."""
    import torch
    from torch import nn

    options = dict(options or {})
    with _global_rng_kept():
        model, shape = _build_model(build, options, label)
        where = f"{label} on input shape {shape}"
        _require(
            isinstance(model, nn.Module),
            where,
            f"build returned {type(model).__name__}, not a torch.nn.Module",
        )
        params = [p for p in model.parameters() if p.requires_grad]
        _require(bool(params), where, "the model has no trainable parameters")
        gen = torch.Generator().manual_seed(0)
        inputs = torch.randn(2, *shape, generator=gen, dtype=params[0].dtype)
        outputs = model(inputs)
        _require(
            isinstance(outputs, torch.Tensor) and tuple(outputs.shape) == (2, NUM_OUTPUTS),
            where,
            f"a batch of 2 gave outputs of shape {tuple(getattr(outputs, 'shape', ()))}, "
            f"expected (2, {NUM_OUTPUTS}) = (batch, num_outputs)",
        )
        _require(bool(torch.isfinite(outputs).all()), where, "outputs are not finite")
        outputs.square().sum().backward()
        grads = [p.grad for p in params if p.grad is not None]
        _require(bool(grads), where, "no parameter receives a gradient from the outputs")
        _require(
            all(bool(torch.isfinite(g).all()) for g in grads), where, "gradients are not finite"
        )
        _require(
            any(bool(g.abs().sum() > 0) for g in grads), where, "every gradient is exactly zero"
        )
    return PASSED


# ---------------------------------------------------------------------------- initializations
def _small_mlp() -> nn.Module:
    from torch import nn

    return nn.Sequential(
        nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, NUM_OUTPUTS)
    )


def _snapshot(module: nn.Module, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    import torch

    state = {f"param {n}": p.detach().clone() for n, p in module.named_parameters()}
    state.update({f"buffer {n}": b.detach().clone() for n, b in module.named_buffers()})
    with torch.no_grad():
        state["output"] = module(inputs).detach().clone()
    return state


def _same(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> list[str]:
    """The keys whose tensors differ (or that only one side has)."""
    import torch

    keys = set(a) | set(b)
    return sorted(k for k in keys if k not in a or k not in b or not torch.equal(a[k], b[k]))


def check_initialization(
    initialize: Callable[..., Any],
    options: Mapping[str, Any] | None = None,
    label: str = "initialization",
    models: Sequence[tuple[str, Callable[[], nn.Module], tuple[int, ...]]] = (),
) -> str:
    """``initialize(model, generator, **options)`` returns an ``nn.Module``; it draws only from
    ``generator``: the same seed gives identical parameters, buffers and outputs whatever the
    model's previous weights, another seed gives other parameters, and torch's global RNG is
    left untouched. Checked on a small ``nn.Sequential`` of Linear layers and on each of
    ``models``: ``(name, make_fresh_model, input_shape)``."""
    import torch
    from torch import nn

    options = dict(options or {})
    targets = [("a Sequential of 3 Linear layers", _small_mlp, (6,)), *models]
    with _global_rng_kept():
        for model_name, make, shape in targets:
            where = f"{label} on {model_name}"
            inputs = torch.randn(2, *shape, generator=torch.Generator().manual_seed(7))
            runs: list[dict[str, torch.Tensor]] = []
            for seed, prior in ((1234, 1), (1234, 2), (1235, 3)):
                torch.manual_seed(prior)  # different weights before each initialization
                model = make()
                before = torch.get_rng_state()
                result = initialize(model, torch.Generator().manual_seed(seed), **options)
                _require(
                    torch.equal(before, torch.get_rng_state()),
                    where,
                    "it used torch's global RNG; draw only from the generator it is given "
                    "(torch.randn(..., generator=generator))",
                )
                _require(
                    isinstance(result, nn.Module),
                    where,
                    f"it returned {type(result).__name__}, not the nn.Module to train",
                )
                runs.append(_snapshot(result, inputs))
            differ = _same(runs[0], runs[1])
            _require(
                not differ,
                where,
                f"the same seed gave different {', '.join(differ[:3])}: every parameter must "
                "be drawn from the generator (or set to a constant), never kept from before",
            )
            _require(
                any(k.startswith("param") for k in _same(runs[0], runs[2])),
                where,
                "seeds 1234 and 1235 gave identical parameters: the generator is ignored",
            )
            _require(
                bool(torch.isfinite(runs[0]["output"]).all()),
                where,
                "the initialized model's outputs are not finite",
            )
    return PASSED


# -------------------------------------------------------------------------------- losses
def check_loss(
    make: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "loss"
) -> str:
    """``make(**options)`` gives ``loss`` with ``loss.encode_targets(labels, num_classes)``
    (one row per label) and ``loss(outputs, targets)``: a finite 0-dim tensor, the MEAN over
    the batch (a batch repeated twice has the same loss), differentiable in ``outputs``, in
    float32 and float64."""
    import torch

    loss = make(**dict(options or {}))
    _require(callable(loss), label, f"make() returned {type(loss).__name__}, not callable")
    _require(
        callable(getattr(loss, "encode_targets", None)),
        label,
        "the loss has no encode_targets(labels, num_classes) method",
    )
    gen = torch.Generator().manual_seed(0)
    classes, n = 4, 6
    labels = torch.randint(0, classes, (n,), generator=gen, dtype=torch.int64)
    targets = loss.encode_targets(labels, classes)
    _require(
        isinstance(targets, torch.Tensor) and len(targets) == n,
        label,
        f"encode_targets of {n} labels gave {type(targets).__name__} "
        f"of shape {tuple(getattr(targets, 'shape', ()))}; expected one row per label",
    )
    for dtype in (torch.float32, torch.float64):
        where = f"{label} ({dtype})"
        outputs = torch.randn(n, classes, generator=gen, dtype=dtype).requires_grad_(True)
        typed = targets.to(dtype) if targets.is_floating_point() else targets
        value = loss(outputs, typed)
        _require(
            isinstance(value, torch.Tensor) and value.dim() == 0,
            where,
            f"loss(outputs, targets) gave {type(value).__name__} of shape "
            f"{tuple(getattr(value, 'shape', ()))}; expected a 0-dim tensor",
        )
        _require(bool(torch.isfinite(value)), where, f"the loss is not finite ({value})")
        (grad,) = torch.autograd.grad(value, outputs)
        _require(bool(torch.isfinite(grad).all()), where, "its gradient is not finite")
        _require(bool(grad.abs().sum() > 0), where, "its gradient in the outputs is zero")
        doubled = loss(torch.cat([outputs, outputs]), torch.cat([typed, typed]))
        _require(
            math.isclose(doubled.item(), value.item(), rel_tol=1e-5, abs_tol=1e-7),
            where,
            f"a batch repeated twice gives {doubled.item():.6g}, not {value.item():.6g}: the "
            "loss must be the mean over the batch, not the sum",
        )
    return PASSED


# ---------------------------------------------------------------------------- optimizers
def _quadratic_step(
    make: Callable[..., Any], options: Mapping[str, Any], lr: float, steps: int, label: str
) -> tuple[list[float], float]:
    """Losses of f(x) = 0.5 sum a_i x_i^2 after each of ``steps`` steps, and |x_1 - x_0|."""
    import torch

    a = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    x = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64))
    start = x.detach().clone()
    optimizer = make([x], lr, **options)
    _require(
        isinstance(optimizer, torch.optim.Optimizer),
        label,
        f"make(params, lr) returned {type(optimizer).__name__}, not a torch.optim.Optimizer",
    )
    losses = [float(0.5 * (a * x.detach() ** 2).sum())]
    moved = 0.0
    for step in range(steps):
        optimizer.zero_grad()
        value = 0.5 * (a * x**2).sum()
        value.backward()
        optimizer.step()
        if step == 0:
            moved = float((x.detach() - start).norm())
        losses.append(float(0.5 * (a * x.detach() ** 2).sum()))
    return losses, moved


def check_optimizer(
    make: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "optimizer"
) -> str:
    """``make(params, lr, **options)`` gives a ``torch.optim.Optimizer`` that, on a convex
    quadratic with a small ``lr``, lowers the loss on its first step and keeps lowering it,
    and whose first step scales with ``lr`` (the probe sets lr = c / lambda0)."""
    options = dict(options or {})
    losses, moved = _quadratic_step(make, options, 1e-2, 20, label)
    _require(
        losses[1] < losses[0],
        label,
        f"one step with lr=0.01 on 0.5 x^T diag(1,2,3,4) x did not lower it "
        f"({losses[0]:.6g} -> {losses[1]:.6g})",
    )
    _require(
        losses[-1] < losses[1] and all(math.isfinite(v) for v in losses),
        label,
        f"20 steps with lr=0.01 did not keep lowering the quadratic ({losses[1]:.6g} -> "
        f"{losses[-1]:.6g})",
    )
    _, moved_small = _quadratic_step(make, options, 1e-3, 1, label)
    _require(
        moved > 2 * moved_small,
        label,
        f"the first step moved {moved:.3g} with lr=0.01 and {moved_small:.3g} with lr=0.001: "
        "the step must scale with lr",
    )
    return PASSED


# ---------------------------------------------------------------------------- estimators
def _half_mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The loss of the estimator check's problem (top-level: the operator keys on its code)."""
    return 0.5 * (outputs - targets).square().mean()


@dataclass(frozen=True)
class _HessianProblem:
    model: Any
    inputs: Any
    targets: Any
    hessian: Any  # (n, n) float64
    eigenvalues: Any  # float64, descending
    eigenvectors: Any  # columns, matching eigenvalues


def _hessian_problem() -> _HessianProblem:
    """A tanh MLP (26 parameters, float64) near a fit, so its Hessian's top eigenvalue is
    positive, well separated (gaps >= 50% and >= 30% for the first two) and dominant in
    magnitude; the Hessian is computed exactly by reverse-over-reverse ``torch.func.jacrev``."""
    import torch
    from torch import nn

    f64 = torch.float64
    for seed in range(20):
        gen = torch.Generator().manual_seed(seed)
        scale = torch.tensor([4.0, 1.0, 0.25], dtype=f64)
        inputs = torch.randn(16, 3, generator=gen, dtype=f64) * scale
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(f64)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=f64) / math.sqrt(p.shape[-1]))
            targets = model(inputs) + 0.1 * torch.randn(16, 2, generator=gen, dtype=f64)
        named = list(model.named_parameters())
        numels = [p.numel() for _, p in named]
        flat = torch.cat([p.detach().reshape(-1) for _, p in named])

        def loss_of(
            vector: torch.Tensor,
            named=named,
            numels=numels,
            model=model,
            inputs=inputs,
            targets=targets,
        ) -> torch.Tensor:
            parts = {
                n: t.view(p.shape) for (n, p), t in zip(named, vector.split(numels), strict=True)
            }
            return _half_mse(torch.func.functional_call(model, parts, (inputs,)), targets)

        hessian = torch.func.jacrev(torch.func.jacrev(loss_of))(flat)
        hessian = 0.5 * (hessian + hessian.T)
        values, vectors = torch.linalg.eigh(hessian)
        values, vectors = values.flip(0), vectors.flip(1)
        top, second, third = (float(v) for v in values[:3])
        if (
            top - second >= 0.5 * top
            and second - third >= 0.3 * second
            and abs(float(values[-1])) <= 0.1 * top
        ):
            return _HessianProblem(model, inputs, targets, hessian, values, vectors)
    raise RuntimeError("no well-conditioned test problem among 20 seeds")  # pragma: no cover


def check_estimator(
    estimate: Callable[..., Any],
    options: Mapping[str, Any] | None = None,
    label: str = "estimator",
    rtol: float = 1e-3,
) -> str:
    """``estimate(operator, k=1, warm_start=None, generator=None, return_vectors=False,
    **options)`` on a ``phasebench.hessian.HessianOperator`` returns a ``SharpnessResult``
    whose top eigenvalue matches the exact one (``torch.func.jacrev`` twice, float64) within
    ``rtol``, whose ``hvps`` is the operator's count of products it asked for (> 0), and
    that takes ``k=2``, ``return_vectors`` and a warm start."""
    import torch

    from phasebench.hessian import HessianOperator, SharpnessResult

    options = dict(options or {})
    problem = _hessian_problem()
    exact = [float(v) for v in problem.eigenvalues[:2]]

    def run(**kwargs: Any) -> Any:
        operator = HessianOperator(
            problem.model, _half_mse, problem.inputs, problem.targets, dtype="float64"
        )
        before = operator.hvps
        result = estimate(operator, generator=torch.Generator().manual_seed(0), **kwargs)
        shown = {k: ("<top eigenvector>" if k == "warm_start" else v) for k, v in kwargs.items()}
        where = f"{label} ({', '.join(f'{k}={v}' for k, v in shown.items())})"
        _require(
            isinstance(result, SharpnessResult),
            where,
            f"returned {type(result).__name__}, not phasebench.hessian.SharpnessResult",
        )
        used = operator.hvps - before
        _require(
            result.hvps > 0 and result.hvps == used,
            where,
            f"hvps={result.hvps}, but it asked the operator for {used} products",
        )
        return result, where, operator

    def matches(value: float, expected: float, where: str, tol: float, which: str) -> None:
        _require(
            math.isclose(value, expected, rel_tol=tol),
            where,
            f"{which} eigenvalue {value:.6g}, exact {expected:.6g} (relative tolerance {tol:g})",
        )

    result, where, _ = run(k=1, **options)
    _require(len(result.eigenvalues) >= 1, where, "no eigenvalue returned")
    matches(result.eigenvalues[0], exact[0], where, rtol, "top")

    result, where, operator = run(k=1, return_vectors=True, **options)
    vectors = result.eigenvectors
    _require(
        isinstance(vectors, torch.Tensor) and tuple(vectors.shape) == (1, operator.size),
        where,
        f"eigenvectors of shape {tuple(getattr(vectors, 'shape', ()))}, expected "
        f"(1, {operator.size})",
    )
    v = vectors[0].double()
    hv = problem.hessian @ v
    residual = float((hv - result.eigenvalues[0] * v).norm() / v.norm())
    _require(
        residual <= 1e-2 * abs(exact[0]),
        where,
        f"the returned vector is not an eigenvector: ||Hv - lambda v|| = {residual:.3g}",
    )

    result, where, _ = run(k=2, **options)
    _require(
        len(result.eigenvalues) == 2,
        where,
        f"k=2 returned {len(result.eigenvalues)} eigenvalues",
    )
    matches(result.eigenvalues[0], exact[0], where, rtol, "top")
    matches(result.eigenvalues[1], exact[1], where, 10 * rtol, "second")

    warm = problem.eigenvectors[:, 0].clone()
    result, where, _ = run(k=1, warm_start=warm, **options)
    matches(result.eigenvalues[0], exact[0], where, rtol, "top")
    return PASSED


# ------------------------------------------------------------------------------ datasets
@contextlib.contextmanager
def _offline() -> Iterator[None]:
    saved = os.environ.get("PHASEBENCH_OFFLINE")
    os.environ["PHASEBENCH_OFFLINE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PHASEBENCH_OFFLINE", None)
        else:
            os.environ["PHASEBENCH_OFFLINE"] = saved


def check_dataset(
    load: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "dataset"
) -> str:
    """``load(split, data_dir=None, **options)`` for "train" and "test" returns a
    ``phasebench.data.Split``: finite float inputs (N, C, H, W) or (N, D), int64 labels (N,) in
    ``[0, num_classes)``. ``locate``, when present, lists ``(file name, Path | None)``. A
    ``DataError`` (files not on this machine; nothing is downloaded) makes the check
    ``"skipped: ..."``; ``fetch`` is never called."""
    from pathlib import Path

    import torch

    from phasebench.data import Split

    options = dict(options or {})
    locate = getattr(load, "locate", None)
    if locate is not None:
        found = locate(data_dir=None)
        _require(
            isinstance(found, list)
            and all(
                isinstance(item, tuple)
                and len(item) == 2
                and isinstance(item[0], str)
                and (item[1] is None or isinstance(item[1], Path))
                for item in found
            ),
            label,
            "locate(data_dir=None) must return a list of (file name, Path or None)",
        )
    for split_name in ("train", "test"):
        where = f"{label} ({split_name})"
        try:
            with _offline():
                split = load(split_name, data_dir=None, **options)
        except DataError as exc:
            return f"skipped: files not present ({_first_line(exc)[:160]})"
        _require(
            isinstance(split, Split),
            where,
            f"load returned {type(split).__name__}, not phasebench.data.Split",
        )
        inputs, labels = split.inputs, split.labels
        _require(
            isinstance(inputs, torch.Tensor)
            and inputs.is_floating_point()
            and inputs.dim() in (2, 4),
            where,
            "inputs must be a float tensor (N, C, H, W) or (N, D), got "
            f"{getattr(inputs, 'dtype', type(inputs).__name__)} "
            f"{tuple(getattr(inputs, 'shape', ()))}",
        )
        _require(len(split) > 0, where, "the split is empty")
        _require(
            isinstance(labels, torch.Tensor) and labels.dtype == torch.int64 and labels.dim() == 1,
            where,
            f"labels must be an int64 tensor (N,), got {getattr(labels, 'dtype', labels)} "
            f"{tuple(getattr(labels, 'shape', ()))}",
        )
        _require(
            isinstance(split.num_classes, int) and split.num_classes >= 1,
            where,
            f"num_classes must be a positive int, got {split.num_classes!r}",
        )
        low, high = int(labels.min()), int(labels.max())
        _require(
            0 <= low and high < split.num_classes,
            where,
            f"labels range {low}..{high}, outside 0..{split.num_classes - 1}",
        )
        _require(bool(torch.isfinite(inputs).all()), where, "inputs are not finite")
    return PASSED


# ----------------------------------------------------------------------------- executors
def _square(task: int) -> int:
    """The executor check's task function: ``task ** 2``; a negative task raises ValueError."""
    if task < 0:
        raise ValueError(f"negative task {task}")
    return task * task


EXECUTOR_TASKS = (3, 0, -1, 2, 5)


def check_executor(
    make: Callable[..., Any],
    options: Mapping[str, Any] | None = None,
    label: str = "executor",
    defaults: Mapping[str, Any] | None = None,
) -> str:
    """``make(**options)`` gives a context manager with ``submit_all(fn, tasks)`` that yields
    exactly one ``phasebench.execution.Outcome`` per task (``index``, ``task``, the value of
    ``fn(task)``); a task that raises is reported failed after ``retries + 1`` attempts while
    the others succeed; ``in_flight`` is 0 when done; ``workers=0`` is a UsageError.
    ``defaults`` (the registration's) decide which options are passed: ``workers=1`` and
    ``retries=1`` when declared."""
    from phasebench.execution import Outcome, TaskError

    declared = dict(defaults or {})
    options = dict(options or {})
    if "workers" in declared:
        options.setdefault("workers", 1)
        try:
            make(**{**options, "workers": 0})
        except UsageError:
            pass
        else:
            raise ConformanceError(f"{label}: make(workers=0) must raise a one-line UsageError")
    if "retries" in declared:
        options.setdefault("retries", 1)
    retries = options.get("retries")
    tasks = list(EXECUTOR_TASKS)
    with make(**options) as executor:
        outcomes = list(executor.submit_all(_square, tasks))
        in_flight = executor.in_flight
    _require(
        all(isinstance(o, Outcome) for o in outcomes),
        label,
        "submit_all must yield phasebench.execution.Outcome objects",
    )
    indices = sorted(o.index for o in outcomes)
    _require(
        indices == list(range(len(tasks))),
        label,
        f"submit_all over {len(tasks)} tasks yielded outcomes for indices {indices}",
    )
    for outcome in outcomes:
        task = tasks[outcome.index]
        where = f"{label} (task {outcome.index}: {task})"
        _require(outcome.task == task, where, f"outcome.task is {outcome.task!r}")
        if task >= 0:
            _require(
                outcome.ok and outcome.value == task * task and outcome.error is None,
                where,
                f"expected ok with value {task * task}, got ok={outcome.ok} "
                f"value={outcome.value!r} error={outcome.error!r}",
            )
            _require(outcome.attempts == 1, where, f"{outcome.attempts} attempts for a success")
        else:
            _require(
                not outcome.ok
                and isinstance(outcome.error, TaskError)
                and outcome.error.type == "ValueError",
                where,
                f"a task that raises ValueError must be reported failed with a TaskError, got "
                f"ok={outcome.ok} error={outcome.error!r}",
            )
            if isinstance(retries, int):
                _require(
                    outcome.attempts == retries + 1,
                    where,
                    f"{outcome.attempts} attempts with retries={retries}; expected {retries + 1}",
                )
    _require(in_flight == 0, label, f"in_flight is {in_flight} after every task finished")
    return PASSED


# ---------------------------------------------------------------------------- dispatching
_CHECKS: dict[str, Callable[..., str]] = {
    "model": check_model,
    "initialization": check_initialization,
    "loss": check_loss,
    "optimizer": check_optimizer,
    "estimator": check_estimator,
    "dataset": check_dataset,
    "executor": check_executor,
}


def _model_targets(
    registry_of: Components, models: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, Callable[[], nn.Module], tuple[int, ...]]]:
    """Fresh-model factories for the named models (with these options) at a shape they take."""
    targets = []
    for model_name, given in models.items():
        registration = registry_of.get("model", model_name)
        build = registration.load()
        model_options = registration.options(given)
        label = f"model {model_name!r}"
        with _global_rng_kept():
            _, shape = _build_model(build, model_options, label)

        def fresh(build=build, shape=shape, model_options=model_options) -> nn.Module:
            return build(shape, NUM_OUTPUTS, **model_options)

        targets.append((f"model {model_name!r} {dict(model_options)}", fresh, shape))
    return targets


def check_component(
    kind: str,
    name: str,
    components: Components | None = None,
    options: Mapping[str, Any] | None = None,
    models: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """Check the registered ``kind`` component ``name`` against its contract.

    ``options`` override its registered defaults (unknown ones are a UsageError). ``models``
    (initializations only): registered model names -> options; the initialization is also
    checked on each. Returns ``"passed"`` or ``"skipped: <why>"``; raises
    :class:`ConformanceError` on a violation.
    """
    if kind not in _CHECKS:
        raise UsageError(f"unknown kind {kind!r}; the kinds are: {', '.join(KINDS)}")
    found = components if components is not None else plugins.components()
    registration = found.get(kind, name)
    label = f"{kind} {name!r} (plugin {registration.plugin!r})"
    component = registration.load()
    merged = registration.options(options)
    if kind == "initialization":
        targets = _model_targets(found, models or {})
        return check_initialization(component, merged, label, targets)
    if kind == "executor":
        return check_executor(component, merged, label, defaults=registration.defaults)
    return _CHECKS[kind](component, merged, label)


# ------------------------------------------------------------------------------- plugins
@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one component: ``status`` is passed, skipped or failed."""

    kind: str
    name: str
    status: str
    detail: str = ""

    def line(self) -> str:
        text = f"{self.status:7} {self.kind} {self.name}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass
class PluginReport:
    """What :func:`check_plugin` found: load problems and one result per component."""

    plugin: str
    results: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.status != "failed" for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]

    def lines(self) -> list[str]:
        head = f"plugin {self.plugin}: {'ok' if self.ok else 'FAILED'}"
        return [
            head,
            *(f"  problem {p}" for p in self.problems),
            *(f"  {r.line()}" for r in self.results),
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def raise_for_failures(self) -> None:
        """Raise :class:`ConformanceError` listing every problem and failure, if any."""
        if not self.ok:
            raise ConformanceError(str(self))


def _installed_plugin_names() -> list[str]:
    return sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})


def _resolve(plugin: str | ModuleType | object) -> tuple[str, list[tuple[str, object]]]:
    """(plugin name, extra plugins to load): an entry-point name loads as installed.

    A module name that exists but fails to import raises :class:`_ImportFailed`; one that does
    not exist is a UsageError listing the installed plugins.
    """
    if not isinstance(plugin, str):
        name = str(getattr(plugin, "__name__", type(plugin).__name__))
        return name, [(name, plugin)]
    if plugin in _installed_plugin_names():
        return plugin, []
    try:
        spec = importlib.util.find_spec(plugin)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        installed = ", ".join(_installed_plugin_names()) or "none"
        raise UsageError(
            f"{plugin!r} is neither an installed phasebench plugin nor an importable module; "
            f"installed plugins: {installed}"
        )
    try:
        module = importlib.import_module(plugin)
    except Exception as exc:  # the plugin's own import error: a problem to report
        raise _ImportFailed(f"plugin {plugin!r} failed to import: {_first_line(exc)}") from exc
    return plugin, [(plugin, module)]


class _ImportFailed(Exception):
    """A plugin module that exists but raises on import."""


def check_registrations(
    found: Components, registrations: Iterable[Registration], report: PluginReport
) -> PluginReport:
    """Check each registration into ``report``; initializations also on the models listed."""
    registrations = list(registrations)
    models = {r.name: {} for r in registrations if r.kind == "model"}
    for registration in registrations:
        try:
            status = check_component(
                registration.kind,
                registration.name,
                found,
                models=models if registration.kind == "initialization" else None,
            )
        except AssertionError as exc:
            report.results.append(
                CheckResult(registration.kind, registration.name, "failed", str(exc))
            )
            continue
        except Exception as exc:  # any crash of a component is a failed check, reported
            report.results.append(
                CheckResult(
                    registration.kind,
                    registration.name,
                    "failed",
                    f"raised {_first_line(exc)}",
                )
            )
            continue
        if status == PASSED:
            report.results.append(CheckResult(registration.kind, registration.name, PASSED))
        else:
            detail = status.partition(": ")[2]
            report.results.append(
                CheckResult(registration.kind, registration.name, "skipped", detail)
            )
    return report


def _registrations_of(found: Components, plugin: str) -> list[Registration]:
    return [r for kind in KINDS for r in found.registry(kind) if r.plugin == plugin]


def check_plugin(plugin: str | ModuleType | object) -> PluginReport:
    """Load ``plugin`` with the built-ins only (``PHASEBENCH_LOAD_PLUGINS=<it>``) and check every
    component it registers. ``plugin``: an installed entry-point name, a module, or an
    importable module name. Load failures, name clashes and a plugin that registers nothing
    are reported as problems; never raises for what the plugin does."""
    try:
        name, extra = _resolve(plugin)
    except _ImportFailed as exc:
        return PluginReport(str(plugin), problems=[str(exc)])
    report = PluginReport(name)
    try:
        found = load_components(env={"PHASEBENCH_LOAD_PLUGINS": name}, extra_plugins=extra)
    except PhasebenchError as exc:
        report.problems.append(str(exc))
        return report
    report.problems += [f.line() for f in found.failures if f.name == name]
    registrations = _registrations_of(found, name)
    if not registrations and not report.problems:
        report.problems.append(f"plugin {name!r} registered no component")
    return check_registrations(found, registrations, report)


# -------------------------------------------------------------------------------- pytest
def parametrize_components(
    kinds: Iterable[str] | None = None,
    plugin: str | None = None,
    found: Components | None = None,
) -> pytest.MarkDecorator:
    """``@parametrize_components(["model"])`` on ``def test_x(kind, name)``: one test per
    registered component of those kinds (default all), optionally only ``plugin``'s."""
    import pytest

    found = found if found is not None else plugins.components()
    wanted = list(kinds) if kinds is not None else list(KINDS)
    pairs = [
        (kind, r.name)
        for kind in wanted
        for r in found.registry(kind)
        if plugin is None or r.plugin == plugin
    ]
    return pytest.mark.parametrize(("kind", "name"), pairs, ids=[f"{k}-{n}" for k, n in pairs])


# ----------------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m phasebench.testing [PLUGIN ...]``: 0 when every check passes, else 1."""
    parser = argparse.ArgumentParser(
        prog="python -m phasebench.testing",
        description="Check phasebench plugins against the component contracts.",
    )
    parser.add_argument(
        "plugins",
        nargs="*",
        metavar="PLUGIN",
        help="entry-point names of installed plugins, or importable modules (default: all "
        "installed)",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    names = args.plugins or _installed_plugin_names()
    failed = False
    for name in names:
        try:
            report = check_plugin(name)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(report, flush=True)
        failed = failed or not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    # Run the module's functions under their importable name, so worker processes find _square.
    from phasebench.testing import main as _main

    sys.exit(_main())
