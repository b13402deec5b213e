"""Everything one scan needs, built from its ``ProbeConfig`` through the registries: the data
and its fixed batches, the loss, the initialized model and its optimizer and estimator."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from phasebench import adaptive, kinds
from phasebench.config import ComponentSpec, ProbeConfig
from phasebench.data import Split
from phasebench.errors import ComponentError, ParameterError, PhasebenchError
from phasebench.hessian.operator import resolve_dtype
from phasebench.plugins import Components
from phasebench.probe.schedule import check_rates, rates
from phasebench.probe.units import check_lr_unit
from phasebench.registry import Registration

#: The fixed sharpness and loss batches are drawn with this seed, the same for every
#: initialization and SGD seed, so lambda0 and L0 of different seeds are comparable.
DATA_SEED = 0
#: Forward passes over the loss batch go in chunks of this many examples.
CHUNK = 4096
#: Seeds are stored as int64 and the probe draws from seed + 1: the largest seed allowed.
MAX_SEED = 2**63 - 2


def resolve_device(device: str) -> torch.device:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ParameterError(f"unknown device {device!r}; use cpu or cuda", "device")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(
            "device cuda was asked for but no CUDA GPU is available; use cpu", "device"
        )
    return torch.device(device)


#: Loaded splits, the most recent last: every scan of a sweep in this process reuses them.
_SPLITS: dict[tuple, Split] = {}
_SPLITS_KEPT = 4


def load_split(
    registration: Registration,
    spec: ComponentSpec,
    data_dir: str | None = None,
    split: str = "train",
) -> Split:
    """A dataset split, cached per process (every scan of a sweep reuses it)."""
    data_dir = data_dir or os.environ.get("PHASEBENCH_DATA") or None
    target = registration.target if isinstance(registration.target, str) else id(registration)
    key = (registration.name, target, spec.options, data_dir, split)
    if key not in _SPLITS:
        loader = registration.load()
        options = registration.options(spec.opts())
        _SPLITS[key] = call_component(registration, loader, split, data_dir=data_dir, **options)
        while len(_SPLITS) > _SPLITS_KEPT:
            del _SPLITS[next(iter(_SPLITS))]
    return _SPLITS[key]


def balanced_subset(labels: torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """The indices (sorted) of a fixed, class-balanced subset of ``n`` examples: n // classes
    of each class, one more for the first n % classes classes, each class's taken in the order
    of a permutation drawn from ``DATA_SEED``. The same labels always give the same subset; a
    class with too few examples is a ParameterError."""
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(DATA_SEED))
    shuffled = labels[order]
    chosen = []
    for k in range(num_classes):
        want = n // num_classes + (1 if k < n % num_classes else 0)
        have = order[shuffled == k]
        if len(have) < want:
            raise ParameterError(
                f"train_examples {n} needs {want} examples of class {k} but the training split "
                f"has {len(have)}; pass a smaller train_examples",
                "train_examples",
            )
        chosen.append(have[:want])
    return torch.sort(torch.cat(chosen)).values


def training_split(
    registration: Registration, config: ProbeConfig, data_dir: str | None = None
) -> Split:
    """The examples a configuration trains on: its dataset's training split, or the fixed
    class-balanced subset of ``train_examples`` of them."""
    train = load_split(registration, config.dataset, data_dir)
    n = config.train_examples
    if not n:
        return train
    if n > len(train):
        raise ParameterError(
            f"train_examples {n} is larger than the {len(train)} training examples of "
            f"{config.dataset.name}; pass {len(train)} or less",
            "train_examples",
        )
    index = balanced_subset(train.labels, n, train.num_classes)
    return Split(train.inputs[index], train.labels[index], train.num_classes, train.name)


class BatchOrder:
    """The indices of each step's minibatch: epochs of permutations drawn from the SGD seed
    (a batch never spans two epochs), or, for full-batch GD, every example in a fixed order.
    ``state()``/``restore()`` carry the position through a checkpoint."""

    def __init__(self, n: int, size: int, seed: int, full: bool, device: torch.device) -> None:
        self.n, self.size, self.full, self.device = n, size, full, device
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.arange(n) if full else torch.randperm(n, generator=self.generator)
        self.position = 0

    def next(self) -> torch.Tensor:
        if self.full:
            return self.order.to(self.device)
        if self.position + self.size > self.n:
            self.order, self.position = torch.randperm(self.n, generator=self.generator), 0
        out = self.order[self.position : self.position + self.size].to(self.device)
        self.position += self.size
        return out

    def state(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "order": self.order.clone(),
            "position": self.position,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"].clone()
        self.position = int(state["position"])


def call_component(registration: Registration, target: Callable[..., Any], *args, **kwargs):
    """``target(*args, **kwargs)``; an error it raises becomes one line naming the component and
    its plugin (a PhasebenchError, which already names the problem, passes through)."""
    try:
        return target(*args, **kwargs)
    except PhasebenchError:
        raise
    except Exception as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else ""
        where = f"plugin {registration.plugin!r}" if registration.plugin else "no plugin"
        raise ComponentError(
            f"{registration.kind} {registration.name!r} ({where}) raised "
            f"{type(exc).__name__}{': ' + first if first else ''}; fix its options or the plugin"
        ) from exc


@dataclass
class Problem:
    """The data, loss, model factory and estimator of one scan; the model is built by
    ``initial_model()`` the same way every time (the seed decides everything)."""

    config: ProbeConfig
    components: Components
    registrations: dict[str, Registration]  # by ProbeConfig field
    train: Split
    inputs: torch.Tensor
    targets: torch.Tensor
    sharpness_inputs: torch.Tensor
    sharpness_targets: torch.Tensor
    loss_inputs: torch.Tensor
    loss_targets: torch.Tensor
    loss: Any
    dtype: torch.dtype
    device: torch.device
    name_errors: bool = False  # a component that raises: one line naming it and its plugin

    @classmethod
    def build(
        cls,
        config: ProbeConfig,
        components: Components,
        data_dir: str | None = None,
        name_errors: bool = False,
    ) -> Problem:
        """Build a scan's problem from a configuration that ``preflight`` accepted (a plan
        validates its configurations once; this does not check them again). With
        ``name_errors``, a component that raises is a ``ComponentError`` naming it."""
        registrations = {
            kind.field: components.get(kind.name, getattr(config, kind.field).name)
            for kind in kinds.probe_kinds()
            if getattr(config, kind.field) is not None
        }
        dtype, device = resolve_dtype(config.dtype), torch.device(config.device)
        train = training_split(registrations["dataset"], config, data_dir)
        loss_registration = registrations["loss"]
        make_loss = loss_registration.load()
        loss_options = loss_registration.options(config.loss.opts())
        if name_errors:
            loss = call_component(loss_registration, make_loss, **loss_options)
        else:
            loss = make_loss(**loss_options)
        targets = loss.encode_targets(train.labels, train.num_classes)
        if targets.is_floating_point():
            targets = targets.to(dtype)
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(DATA_SEED))
        inputs = train.inputs.to(device=device, dtype=dtype)
        targets = targets.to(device)
        sharp = order[: config.sharpness_examples].to(device)
        fixed = order[: config.loss_examples].to(device)
        return cls(
            config=config,
            components=components,
            registrations=registrations,
            train=train,
            inputs=inputs,
            targets=targets,
            sharpness_inputs=inputs[sharp],
            sharpness_targets=targets[sharp],
            loss_inputs=inputs[fixed],
            loss_targets=targets[fixed],
            loss=loss,
            dtype=dtype,
            device=device,
            name_errors=name_errors,
        )

    def options(self, field: str) -> dict:
        """The options the component of ``field`` receives: its stored options with the
        defaults of those it declared later (``Option(since=...)``) merged back in."""
        return self.registrations[field].options(getattr(self.config, field).opts())

    def _call(self, field: str, *args, **kwargs):
        registration = self.registrations[field]
        if self.name_errors:
            return call_component(registration, registration.load(), *args, **kwargs)
        return registration.load()(*args, **kwargs)

    # -- the model -------------------------------------------------------------------------
    def initial_model(self) -> torch.nn.Module:
        """Build and initialize the model; the same seed gives the same weights, bit for bit."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)  # for anything a builder draws itself
            model = self._call(
                "model", self.train.input_shape, self.train.num_classes, **self.options("model")
            )
            generator = torch.Generator().manual_seed(self.config.seed)
            model = self._call("init", model, generator, **self.options("init"))
        return model.to(device=self.device, dtype=self.dtype)

    def optimizer(self, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        return self._call("optimizer", model.parameters(), lr, **self.options("optimizer"))

    def estimator(self):
        return self.registrations["estimator"].load()

    # -- batches -----------------------------------------------------------------------------
    def sharpness_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sharpness_inputs, self.sharpness_targets

    def batch_order(self) -> BatchOrder:
        """The order of the training batches, from the start (``BatchOrder``)."""
        config = self.config
        return BatchOrder(
            len(self.train), config.batch_size, config.sgd_seed, config.full_batch, self.device
        )

    def sgd_batches(self, count: int | None = None) -> list[torch.Tensor]:
        """The indices of each step's minibatch: epochs of a permutation drawn from sgd_seed
        (``count`` batches, default one per step; the first ``steps`` never depend on it)."""
        order = self.batch_order()
        return [order.next() for _ in range(self.config.steps if count is None else count)]

    def step_sharpness_batches(self) -> list[torch.Tensor] | None:
        """The indices of the batch lambda_t is measured on after each step t = 1..steps with
        ``sharpness_batch="next"``: the minibatch step t + 1 trains on (after the last step,
        the one a further step would take); None with ``"fixed"`` (the fixed sharpness
        batch, ``sharpness_batch()``)."""
        if self.config.sharpness_batch == "fixed":
            return None
        return self.sgd_batches(self.config.steps + 1)[1:]

    @torch.no_grad()
    def eval_loss(self, model: torch.nn.Module) -> float:
        """The loss on the fixed loss batch, in eval mode, as a Python float."""
        was_training = model.training
        model.eval()
        total, n = 0.0, len(self.loss_targets)
        try:
            for start in range(0, n, CHUNK):
                inputs = self.loss_inputs[start : start + CHUNK]
                value = self.loss(model(inputs), self.loss_targets[start : start + CHUNK])
                total += float(value) * len(inputs)
        finally:
            model.train(was_training)
        return total / n


def preflight(
    config: ProbeConfig, components: Components, data_dir: str | None = None
) -> tuple[Split, torch.dtype, torch.device]:
    """Everything that can be wrong with a configuration, checked before any work starts, with
    the registries given: component names and options, the protocol's numbers, dtype, device
    and the data's size. Returns the training split, the dtype and the device."""
    registrations = {}
    for kind in kinds.probe_kinds():
        spec: ComponentSpec | None = getattr(config, kind.field)
        if spec is not None:  # unknown names/options: one line
            registrations[kind.field] = components.get(kind.name, spec.name)
            registrations[kind.field].options(spec.opts())  # each value checked, nan too
    check_sizes(config)
    check_lr_unit(config.lr_unit)
    if config.lr_unit == "preconditioned":
        check_adaptive(config, registrations["optimizer"])
    check_finite(config.to_dict())
    if config.schedule is not None:
        check_schedule(config, registrations["schedule"])
    dtype = resolve_dtype(config.dtype)
    device = resolve_device(config.device)
    train = training_split(registrations["dataset"], config, data_dir)
    n = len(train)
    batch = () if config.full_batch else ("batch_size",)  # full batch: every example
    for what in (*batch, "sharpness_examples", "loss_examples"):
        size = getattr(config, what)
        if size > n:
            raise ParameterError(
                f"{what} {size} is larger than the {n} training examples of "
                f"{config.dataset.name}; pass {what} {n} or less",
                what,
            )
    return train, dtype, device


def check_adaptive(config: ProbeConfig, registration: Registration) -> None:
    """``lr_unit`` preconditioned needs an optimizer that declares its preconditioner."""
    if adaptive.traits(registration.load()) is None:
        raise ParameterError(
            f"lr_unit preconditioned needs an adaptive optimizer (adam, or one declared with "
            f"phasebench.adaptive.adaptive); {config.optimizer.name!r} declares no "
            "preconditioner: use --optimizer adam or another lr_unit",
            "lr_unit",
        )


def check_schedule(config: ProbeConfig, registration: Registration) -> None:
    """The schedule takes this run (a warmup longer than its steps is one line) and gives a
    finite learning rate >= 0 at every step, checked before any work at lambda0 = 1 (lambda0
    only scales every rate)."""
    assert config.schedule is not None
    make = registration.load()
    options = config.schedule.opts()
    eta_at = call_component(registration, make, config.c, 1.0, config.steps, **options)
    check_rates(rates(eta_at, config.steps), config.schedule.name)


def check_finite(data: dict[str, Any], prefix: str = "") -> None:
    """Every number of a configuration is finite: it is hashed into the run's name (canonical
    JSON has no nan or inf) and stored. Names the dotted key (``estimator.options.tol``)."""
    for key, value in data.items():
        if isinstance(value, dict):
            check_finite(value, f"{prefix}{key}.")
        elif isinstance(value, float) and not math.isfinite(value):
            name = f"{prefix}{key}".replace(".options.", " option ")
            raise ParameterError(f"{name} must be a finite number, got {value}", f"{prefix}{key}")


def check_sizes(config: ProbeConfig) -> None:
    """The protocol's numbers, checked before anything is built."""
    from phasebench.probe.grid import MAX_C, MAX_X
    from phasebench.probe.spectrum import check_spectrum_options

    check_spectrum_options(config)

    if not 0 < config.c <= MAX_C:
        raise ParameterError(
            f"c must be positive and at most 2^{MAX_X:g}, got {config.c}; pass values of c in "
            "that range",
            "c",
        )
    for what in ("seed", "sgd_seed"):
        value = getattr(config, what)
        if not 0 <= value <= MAX_SEED:
            raise ParameterError(
                f"{what} {value} is out of range; seeds are integers from 0 to {MAX_SEED}", what
            )
    for what in ("steps", "batch_size", "sharpness_examples", "loss_examples", "every", "top_k"):
        value = getattr(config, what)
        if value < 1:
            raise ParameterError(f"{what} must be at least 1, got {value}", what)
    if config.train_examples < 0:
        raise ParameterError(
            f"train_examples must be 0 (the whole split) or positive, got {config.train_examples}",
            "train_examples",
        )
    check_sharpness_batch(config)
    if config.barrier_points < 2:
        raise ParameterError(
            f"barrier_points must be at least 2, got {config.barrier_points}", "barrier_points"
        )
    if not 0 < config.divergence_threshold < math.inf:
        raise ParameterError(
            "divergence_threshold must be a positive finite number (a run diverged when its "
            f"loss is above it), got {config.divergence_threshold}",
            "divergence_threshold",
        )


#: What ``sharpness_batch`` takes: the fixed sharpness batch, or the next training batch.
SHARPNESS_BATCHES = ("fixed", "next")
#: The per-step extras measured on the fixed sharpness batch, which ``next`` would not match.
FIXED_BATCH_EXTRAS = ("per_layer", "smallest", "critical", "density_steps")


def check_sharpness_batch(config: ProbeConfig) -> None:
    """``sharpness_batch`` is fixed or next; ``next`` measures lambda_t alone (the extras
    would still be on the fixed batch, a different matrix from lambda_t's)."""
    if config.sharpness_batch not in SHARPNESS_BATCHES:
        raise ParameterError(
            f"unknown sharpness_batch {config.sharpness_batch!r}; use fixed (the fixed "
            "sharpness batch) or next (the next training batch, the authors')",
            "sharpness_batch",
        )
    if config.sharpness_batch == "fixed":
        return
    for name in FIXED_BATCH_EXTRAS:
        if getattr(config, name):
            raise ParameterError(
                f"sharpness_batch next measures lambda_t alone, but {name} is measured on the "
                f"fixed sharpness batch; drop {name} or use sharpness_batch fixed",
                "sharpness_batch",
                name,
            )
