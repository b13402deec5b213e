"""``HessianOperator``: v -> H v for the Hessian of a mean loss over the flattened parameters.

The operator is defined by a model, a loss ``(outputs, targets) -> scalar mean`` and one or more
fixed batches (weighted n_b / N: exactly the Hessian of the mean over all examples). It is cheap
to build (one gradient graph for the default ``graph`` backend), so a probe rebuilds it after
every training step. Guarantees:

- the model's parameters get no ``.grad`` and the model's buffers are not changed (BatchNorm
  running statistics stay as they were); the model's train/eval flags are restored;
- ``mode="eval"`` (default) evaluates the model in eval mode: BatchNorm uses its running
  statistics and dropout is off. ``mode="train"`` uses batch statistics (so the Hessian depends
  on the split into batches) and dropout with the masks of ``torch.manual_seed(seed + b)`` for
  batch b, identical in every product;
- ``dtype`` (float32 or float64; default the parameters' dtype) is used for the parameters,
  buffers and floating data; the device is that of the parameters (CUDA works, nothing is
  moved to the CPU per product);
- ``hvps`` counts every product an estimator asked for (``matvec`` one, ``matmat`` of an
  ``(n, m)`` block m); ``calibration_hvps`` those spent choosing the backend (first use per
  model structure only).

It implements ``phasebench.hessian.linear.SymmetricOperator`` (size, dtype, device, hvps,
matvec, matmat), the protocol estimators are written against, and hands itself to other
solvers with ``as_scipy()`` (a ``scipy.sparse.linalg.LinearOperator``) and ``as_function()``
(a torch callable).

Backends (``phasebench.hessian.backends``): ``backend="auto"`` (default) times each backend
once per (model structure, loss, mode, dtype, device, batch shapes) and keeps the fastest that
works (build + 10 products); a backend that raises is skipped, and one that fails later falls
back to the next. The choice is kept in this process and on disk
(``phasebench.hessian.backend_cache``, keyed by the torch version and thread count too), so a
second process with the same key does not calibrate. Naming a backend forces it; if it fails
that is an error.

``check=False`` skips the two-example run of the model and loss (a caller that rebuilds the
operator for the same model, loss and data after every step has checked them once); a loss
that is not finite at these parameters is then not an error (the probe tests its own loss
value for divergence). ``loss()`` is free once the ``graph`` backend is built.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from phasebench.errors import UsageError
from phasebench.hessian import backend_cache
from phasebench.hessian.backends import BACKENDS
from phasebench.hessian.batches import as_batches
from phasebench.hessian.functional import LossFn, WeightedLoss
from phasebench.hessian.linear import dense_matrix

#: The order backends are tried in when their measured costs tie or calibration is skipped.
PREFERENCE = ("graph", "rev-rev", "fwd-rev")
#: Products per estimate assumed when trading a backend's build time against its product time.
EXPECTED_PRODUCTS = 10
_CHOICE: dict[tuple, tuple[str, ...]] = {}  # calibration cache: key -> backends, fastest first

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        if dtype not in (None, torch.float32, torch.float64):
            raise UsageError(f"unsupported dtype {dtype}; use float32 or float64")
        return dtype
    if dtype not in DTYPES:
        raise UsageError(f"unsupported dtype {dtype!r}; use float32 or float64")
    return DTYPES[dtype]


def clear_backend_cache() -> None:
    """Forget measured backend choices, in this process and on disk (tests, or after changing
    threads/devices)."""
    _CHOICE.clear()
    backend_cache.clear()


class HessianOperator:
    """The symmetric linear operator v -> H v over the flattened trainable parameters."""

    def __init__(
        self,
        model: torch.nn.Module,
        loss: LossFn,
        inputs: torch.Tensor | Sequence[torch.Tensor],
        targets: torch.Tensor | Sequence[torch.Tensor],
        *,
        dtype: str | torch.dtype | None = None,
        mode: str = "eval",
        backend: str = "auto",
        seed: int = 0,
        check: bool = True,
    ) -> None:
        if mode not in ("eval", "train"):
            raise UsageError(f"unknown mode {mode!r}; use 'eval' (the default) or 'train'")
        if backend != "auto" and backend not in BACKENDS:
            raise UsageError(f"unknown HVP backend {backend!r}; use auto, {', '.join(BACKENDS)}")
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise UsageError("the model has no trainable parameters; nothing to differentiate")
        first = named[0][1]
        self.dtype: torch.dtype = resolve_dtype(dtype) or first.dtype
        if self.dtype not in (torch.float32, torch.float64):
            raise UsageError(f"parameters are {self.dtype}; pass dtype='float32' or 'float64'")
        self.device: torch.device = first.device
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.size: int = sum(self.numels)
        self.mode = mode
        self.loss_fn = loss
        with torch.no_grad():
            self.params = tuple(p.detach().to(self.dtype) for _, p in named)
            trainable = set(self.names)
            buffers = {
                n: (b.detach().to(self.dtype) if b.is_floating_point() else b.detach())
                for n, b in model.named_buffers()
            }
            frozen = {
                n: p.detach().to(self.dtype)
                for n, p in model.named_parameters()
                if n not in trainable
            }
        batches = as_batches(inputs, targets, self.dtype, self.device)
        self.examples = sum(len(b.inputs) for b in batches)
        self.fn = WeightedLoss(
            model, loss, batches, self.names, {**buffers, **frozen}, mode == "train", seed
        )
        if check:
            self._check_loss()
        self.hvps = 0
        self.calibration_hvps = 0
        self.failures: dict[str, str] = {}
        self.calibration_costs: dict[str, float] = {}
        self._requested = backend
        self._impl: Any = None
        self._key = (
            type(model).__qualname__,
            tuple(tuple(s) for s in self.shapes),
            _loss_key(loss),
            mode,
            self.dtype,
            self.device.type,
            tuple(len(b.inputs) for b in batches),
        )
        self._shapes = tuple((tuple(b.inputs.shape), tuple(b.targets.shape)) for b in batches)

    # ----------------------------------------------------------------- checks
    def _check_loss(self) -> None:
        """Run the model and the loss once on two examples of the first batch: a model that
        cannot run, targets shaped unlike the outputs or a non-scalar or non-finite loss is a
        one-line UsageError here, not a traceback in the first product."""
        batch = self.fn.batches[0]
        with torch.no_grad():
            try:
                outputs = self.fn.outputs(self.params, 0, rows=2)
            except RuntimeError as exc:
                raise UsageError(
                    f"the model cannot run on inputs of shape {tuple(batch.inputs.shape)}: "
                    f"{_first_line(exc)}"
                ) from exc
            targets = batch.targets[:2]
            if targets.is_floating_point() and outputs.shape != targets.shape:
                raise UsageError(
                    f"targets of shape {tuple(targets.shape)[1:]} per example do not match the "
                    f"model's outputs {tuple(outputs.shape)[1:]}; encode them like the outputs "
                    "(e.g. one-hot for mse)"
                )
            try:
                value = self.loss_fn(outputs, targets)
            except (RuntimeError, ValueError, IndexError) as exc:
                raise UsageError(
                    f"the loss fails on these outputs and targets: {_first_line(exc)}"
                ) from exc
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise UsageError("the loss must return a scalar tensor (the mean over the batch)")
            if not bool(torch.isfinite(value)):
                raise UsageError("the loss is not finite at these parameters; check data and model")

    # --------------------------------------------------------------- backends
    @property
    def backend(self) -> str:
        """The backend in use (chosen on the first product)."""
        if self._impl is None:
            self._ensure_backend()
        return self._impl.name

    def _ensure_backend(self) -> None:
        if self._impl is not None:
            return
        if self._requested != "auto":
            self._impl = self._build(self._requested, strict=True)
            return
        order = _CHOICE.get(self._key)
        if order is None:
            order = backend_cache.load(self._disk_key())
            if order is not None and not set(order) <= set(BACKENDS):
                order = None  # a stored name this version does not know
            if order is not None:
                _CHOICE[self._key] = order
        if order is None:
            order = self._calibrate()
            _CHOICE[self._key] = order
            backend_cache.store(self._disk_key(), order)
            if self._impl is not None:
                return
        for name in order:
            if name in self.failures:
                continue
            self._impl = self._build(name, strict=False)
            if self._impl is not None:
                return
        raise UsageError(self._no_backend_message())

    def _disk_key(self) -> tuple:
        """What decides the calibration across processes: ``_key`` (model structure, loss,
        mode, dtype, device type, batch sizes), the batch shapes, the torch version, the
        device's name and the thread count."""
        device = self.device.type
        if self.device.type == "cuda":
            device = torch.cuda.get_device_name(self.device)
        return (
            *self._key[:-1],
            self._shapes,
            torch.__version__,
            device,
            torch.get_num_threads(),
        )

    def _no_backend_message(self) -> str:
        reasons = "; ".join(f"{n}: {e}" for n, e in self.failures.items())
        return f"no HVP backend works for this model and loss ({reasons})"

    def _build(self, name: str, strict: bool) -> Any:
        try:
            return BACKENDS[name](self.fn, self.params)
        except Exception as exc:  # a backend may fail on any op it lacks a rule for
            return self._failed(name, exc, strict)

    def _failed(self, name: str, exc: Exception, strict: bool) -> None:
        self.failures[name] = f"{type(exc).__name__}: {_first_line(exc, named=False)}"
        if strict:
            raise UsageError(
                f"HVP backend {name!r} fails on this model and loss ({self.failures[name]}); "
                "use backend='auto'"
            ) from exc
        return None

    def _calibrate(self) -> tuple[str, ...]:
        """Time build + 2 products of every backend; keep the fastest built one."""
        gen = torch.Generator().manual_seed(12345)
        probe = torch.randn(self.size, generator=gen, dtype=torch.float64)
        probe = probe.to(device=self.device, dtype=self.dtype)
        costs: dict[str, float] = {}
        built: dict[str, Any] = {}
        for name in PREFERENCE:
            try:
                start = _now(self.device)
                impl = BACKENDS[name](self.fn, self.params)
                built_at = _now(self.device)
                self.calibration_hvps += 1
                impl.matvec(self._split(probe))
                second = _now(self.device)
                self.calibration_hvps += 1
                impl.matvec(self._split(probe))
                end = _now(self.device)
            except Exception as exc:  # skip what fails; record why
                self._failed(name, exc, strict=False)
                continue
            product = min(second - built_at, end - second)
            costs[name] = (built_at - start) + EXPECTED_PRODUCTS * product
            built[name] = impl
        if not costs:
            raise UsageError(self._no_backend_message())
        order = tuple(sorted(costs, key=costs.__getitem__))
        self._impl = built[order[0]]
        self.calibration_costs = costs
        return order

    # ----------------------------------------------------------------- products
    def _split(self, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(
            part.view(shape) for part, shape in zip(v.split(self.numels), self.shapes, strict=True)
        )

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H v for a flat vector ``v`` of length ``size`` (any float dtype; result in ``dtype``)."""
        if v.shape != (self.size,):
            raise UsageError(f"vector of shape {tuple(v.shape)}; the operator needs ({self.size},)")
        v = v.to(device=self.device, dtype=self.dtype)
        self._ensure_backend()
        while True:
            try:
                parts = self._impl.matvec(self._split(v))
                break
            except Exception as exc:
                if self._requested != "auto":
                    self._failed(self._impl.name, exc, strict=True)
                self._failed(self._impl.name, exc, strict=False)
                _CHOICE[self._key] = tuple(
                    n for n in _CHOICE.get(self._key, PREFERENCE) if n != self._impl.name
                )
                backend_cache.forget(self._disk_key())
                self._impl = None
                self._ensure_backend()
        self.hvps += 1
        return torch.cat([p.reshape(-1) for p in parts])

    def matmat(self, block: torch.Tensor) -> torch.Tensor:
        """H V for an ``(size, m)`` block of m vectors (result ``(size, m)`` in ``dtype``): m
        products, counted as m. Column by column through the backend in use, so each column is
        exactly ``matvec`` of it (same backend, same fallback on failure)."""
        if block.ndim != 2 or block.shape[0] != self.size:
            raise UsageError(
                f"a block of shape {tuple(block.shape)}; the operator needs ({self.size}, m)"
            )
        block = block.to(device=self.device, dtype=self.dtype)
        columns = [self.matvec(block[:, j]) for j in range(block.shape[1])]
        if not columns:
            return block.new_zeros(self.size, 0)
        return torch.stack(columns, dim=1)

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        """``operator @ v`` (a vector) or ``operator @ V`` (an ``(size, m)`` block)."""
        return self.matmat(x) if x.ndim == 2 else self.matvec(x)

    def as_function(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """A plain torch callable ``X -> H X`` for ``(size,)`` or ``(size, m)`` tensors (for a
        solver written in torch); its products are counted here."""
        from phasebench.hessian.linear import to_function

        return to_function(self)

    def as_scipy(self) -> Any:
        """A ``scipy.sparse.linalg.LinearOperator`` (float64 NumPy in and out) for scipy's
        ``eigsh`` or ``lobpcg``; its products run here and are counted here."""
        from phasebench.hessian.linear import to_scipy

        return to_scipy(self)

    def gradient(self) -> torch.Tensor:
        """The flat gradient of the mean loss at the operator's point (not an HVP: not counted).
        Free with the ``graph`` backend, which keeps the gradient its graph was built from; one
        gradient pass per batch with the others."""
        self._ensure_backend()
        parts = self._impl.gradient()
        return torch.cat([p.reshape(-1) for p in parts])

    def random_vector(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """A unit Gaussian vector (drawn on the CPU from ``generator``, moved once)."""
        v = torch.randn(self.size, generator=generator, dtype=torch.float64)
        v = v.to(device=self.device, dtype=self.dtype)
        return v / v.double().norm().to(self.dtype)

    def dense(self) -> torch.Tensor:
        """The full n x n Hessian in float64, column by column (n products, all counted)."""
        return dense_matrix(self)

    def loss(self) -> float:
        """The mean loss over all batches at these parameters: free once the ``graph`` backend
        is built (the loss its graph was built from), else one forward pass per batch."""
        if self._impl is not None and hasattr(self._impl, "loss"):
            return float(self._impl.loss())
        with torch.no_grad():
            return float(self.fn.total(self.params))


def _loss_key(loss: LossFn) -> object:
    """What identifies a loss computation across rebuilds (its name, or its code)."""
    name = getattr(loss, "name", None)
    if isinstance(name, str):
        return name
    code = getattr(loss, "__code__", None)
    if code is not None:
        return (code.co_filename, code.co_firstlineno, code.co_name)
    return (type(loss).__module__, type(loss).__qualname__)


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _first_line(exc: BaseException, named: bool = True) -> str:
    """An exception's first line (its type's name when it has no message)."""
    text = str(exc).strip().splitlines()
    if text:
        return text[0]
    return type(exc).__name__ if named else ""


def residual(v: torch.Tensor, hv: torch.Tensor, value: float) -> float:
    """||H v - value v|| / ||v||, accumulated in float64."""
    v64 = v.double()
    return float((hv.double() - value * v64).norm() / v64.norm())
