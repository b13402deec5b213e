"""Everything one scan needs, built from its ``ProbeConfig`` through the registries: the data
and its fixed batches, the loss, the initialized model and its optimizer and estimator."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import torch

from phasebench import kinds
from phasebench.config import ComponentSpec, ProbeConfig
from phasebench.data import Split
from phasebench.errors import UsageError
from phasebench.hessian.operator import resolve_dtype
from phasebench.plugins import Components, components

#: The fixed sharpness and loss batches are drawn with this seed, the same for every
#: initialization and SGD seed, so lambda0 and L0 of different seeds are comparable.
DATA_SEED = 0
#: Forward passes over the loss batch go in chunks of this many examples.
CHUNK = 4096


def resolve_device(device: str) -> torch.device:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UsageError(f"unknown device {device!r}; use cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA GPU is available; use cpu")
    return torch.device(device)


@functools.lru_cache(maxsize=4)
def _load_split(name: str, options: tuple, data_dir: str | None, split: str) -> Split:
    spec = ComponentSpec(name, options)
    loader = components().load("dataset", name)
    return loader(split, data_dir=data_dir, **spec.opts())


def load_split(spec: ComponentSpec, data_dir: str | None = None, split: str = "train") -> Split:
    """A dataset split, cached per process (every scan of a sweep reuses it)."""
    data_dir = data_dir or os.environ.get("PHASEBENCH_DATA") or None
    return _load_split(spec.name, spec.options, data_dir, split)


@dataclass
class Problem:
    """The data, loss, model factory and estimator of one scan; the model is built by
    ``initial_model()`` the same way every time (the seed decides everything)."""

    config: ProbeConfig
    components: Components
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

    @classmethod
    def build(cls, config: ProbeConfig, data_dir: str | None = None) -> Problem:
        comps = components()
        train, dtype, device = preflight(config, data_dir)
        loss = comps.load("loss", config.loss.name)(**config.loss.opts())
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
            components=comps,
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
        )

    # -- the model -------------------------------------------------------------------------
    def initial_model(self) -> torch.nn.Module:
        """Build and initialize the model; the same seed gives the same weights, bit for bit."""
        spec, init = self.config.model, self.config.init
        build = self.components.load("model", spec.name)
        initialize = self.components.load("initialization", init.name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)  # for anything a builder draws itself
            model = build(self.train.input_shape, self.train.num_classes, **spec.opts())
            generator = torch.Generator().manual_seed(self.config.seed)
            model = initialize(model, generator, **init.opts())
        return model.to(device=self.device, dtype=self.dtype)

    def optimizer(self, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        make = self.components.load("optimizer", self.config.optimizer.name)
        return make(model.parameters(), lr, **self.config.optimizer.opts())

    def estimator(self):
        return self.components.load("estimator", self.config.estimator.name)

    # -- batches -----------------------------------------------------------------------------
    def sharpness_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sharpness_inputs, self.sharpness_targets

    def sgd_batches(self) -> list[torch.Tensor]:
        """The indices of each step's minibatch: epochs of a permutation drawn from sgd_seed."""
        n, size = len(self.train), self.config.batch_size
        generator = torch.Generator().manual_seed(self.config.sgd_seed)
        order = torch.randperm(n, generator=generator)
        out, position = [], 0
        for _ in range(self.config.steps):
            if position + size > n:
                order, position = torch.randperm(n, generator=generator), 0
            out.append(order[position : position + size].to(self.device))
            position += size
        return out

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
    config: ProbeConfig, data_dir: str | None = None
) -> tuple[Split, torch.dtype, torch.device]:
    """Everything that can be wrong with a configuration, checked before any work starts:
    component names and options, the protocol's numbers, dtype, device and the data's size.
    Returns the training split, the dtype and the device."""
    comps = components()
    for kind in kinds.probe_kinds():
        spec: ComponentSpec | None = getattr(config, kind.field)
        if spec is not None:  # unknown names/options: one line
            comps.get(kind.name, spec.name).options(spec.opts())
    check_sizes(config)
    dtype = resolve_dtype(config.dtype)
    device = resolve_device(config.device)
    train = load_split(config.dataset, data_dir)
    n = len(train)
    for what, size in (
        ("--batch-size", config.batch_size),
        ("--sharpness-examples", config.sharpness_examples),
        ("--loss-examples", config.loss_examples),
    ):
        if size > n:
            raise UsageError(
                f"{what} {size} is larger than the {n} training examples of "
                f"{config.dataset.name}; pass {what} {n} or less"
            )
    return train, dtype, device


def check_sizes(config: ProbeConfig) -> None:
    """The protocol's numbers, checked before anything is built."""
    if not config.c > 0:
        raise UsageError(f"c must be positive, got {config.c}; pass --c with values above 0")
    for what, value in (
        ("--steps", config.steps),
        ("--batch-size", config.batch_size),
        ("--sharpness-examples", config.sharpness_examples),
        ("--loss-examples", config.loss_examples),
    ):
        if value < 1:
            raise UsageError(f"{what} must be at least 1, got {value}")
    if config.barrier_points < 2:
        raise UsageError(f"barrier points must be at least 2, got {config.barrier_points}")
    if not config.divergence_threshold > 0:
        raise UsageError("the divergence threshold must be positive")
