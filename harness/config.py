"""The one frozen, serializable description of a probe run, and its stable hash.

A ``ProbeConfig`` names every component by its registered name with its full options (defaults
merged in), the seeds, the learning-rate constant c and the protocol's sizes. Its ``run_id``
(a hash of the canonical JSON) names the run in the results file; ``scan_id`` leaves out c, so
every c of one (model, data, init, seeds, ...) shares one lambda0; ``point_id`` leaves out the
seeds too: the point of a phase diagram that aggregates over seeds; ``trace_id`` names the long
run (``phasebench trace``) of a configuration, apart from its probe run. Executors ship these
configurations, never live models. ``device`` is where the run executed, not what it is, so it
is not hashed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, make_dataclass, replace
from typing import Any

from phasebench import kinds

Options = tuple[tuple[str, Any], ...]

#: Fields that describe where a run executed, not the experiment; they are not hashed.
UNHASHED = frozenset({"device"})
#: Field metadata: the field is hashed only when it differs from its default. Every field added
#: after the first release is declared so, which keeps the names of earlier runs unchanged.
HASHED_WHEN_SET = "hashed_when_set"


class _FrozenMapping(tuple):
    """A mapping frozen into sorted (key, value) pairs: hashable, and thawed back to a dict
    (a plain tuple thaws to a list), so options round-trip exactly."""


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _FrozenMapping(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, _FrozenMapping):
        return {k: _thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class ComponentSpec:
    """A component by registered name, with its options."""

    name: str
    options: Options = ()

    @classmethod
    def of(cls, name: str, options: Mapping[str, Any] | None = None) -> ComponentSpec:
        items = sorted((options or {}).items())
        return cls(name, tuple((str(k), _freeze(v)) for k, v in items))

    def opts(self) -> dict[str, Any]:
        return {k: _thaw(v) for k, v in self.options}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": self.opts()}

    def label(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in self.opts().items())
        return f"{self.name}({inner})" if inner else self.name


#: The component fields of a ProbeConfig: one per kind in a probe (``phasebench.kinds``).
COMPONENT_FIELDS = tuple(kind.field for kind in kinds.probe_kinds())


@dataclass(frozen=True, kw_only=True)
class _Protocol:
    """The protocol's numbers and the methods; ``ProbeConfig`` adds the component fields."""

    c: float = 1.0
    seed: int = 0
    sgd_seed: int = 0
    steps: int = 10
    batch_size: int = 512
    sharpness_examples: int = 2048
    loss_examples: int = 2048
    dtype: str = "float32"
    divergence_threshold: float = 1e5
    barrier_points: int = 101
    #: The curvature eta is measured in: eta = c / lambda_unit(theta_0) (``hessian``: the
    #: paper's lambda0; ``ggn``, ``ntk``: ``phasebench.hessian.curvature``).
    lr_unit: str = field(default="hessian", metadata={HASHED_WHEN_SET: 1})
    #: Also measure the top eigenvalue of each layer's diagonal Hessian block (lambda0 and
    #: every step), and the smallest eigenvalue of the Hessian at every step.
    per_layer: bool = field(default=False, metadata={HASHED_WHEN_SET: 1})
    smallest: bool = field(default=False, metadata={HASHED_WHEN_SET: 1})
    #: Per-step spectrum measurements (``phasebench.probe.spectrum``): the top ``top_k``
    #: eigenvalues at every step (k > 1), the critical sharpness 2 / eta_c at every step, and
    #: the SLQ spectral density after the ``density_steps`` (0 = initialization) with
    #: ``density_probes`` probe vectors of ``density_lanczos`` Lanczos steps each.
    top_k: int = field(default=1, metadata={HASHED_WHEN_SET: 1})
    critical: bool = field(default=False, metadata={HASHED_WHEN_SET: 1})
    density_steps: tuple[int, ...] = field(default=(), metadata={HASHED_WHEN_SET: 1})
    density_probes: int = field(default=5, metadata={HASHED_WHEN_SET: 1})
    density_lanczos: int = field(default=50, metadata={HASHED_WHEN_SET: 1})
    device: str = field(default="cpu", compare=False)
    # -- added for long runs (``phasebench trace``); hashed only when set, so no probe is renamed
    #: train on this many examples of the training split, a fixed class-balanced subset (0: all)
    train_examples: int = field(default=0, metadata={HASHED_WHEN_SET: 1})
    #: every step's gradient is over the whole training set (in a fixed order): full-batch GD
    full_batch: bool = field(default=False, metadata={HASHED_WHEN_SET: 1})
    #: a trace measures every ``every`` steps (and the last); ``top_k`` above is how many
    #: eigenvalues each of its measurements has, as it is for a probe's steps
    every: int = field(default=1, metadata={HASHED_WHEN_SET: 1})
    #: the batch lambda_t (t >= 1) is measured on: ``fixed``, the fixed sharpness batch of
    #: ``sharpness_examples`` (lambda0's); ``next``, the minibatch of ``batch_size`` examples that
    #: step t + 1 trains on (the authors' code). lambda0 is on the fixed batch either way.
    sharpness_batch: str = field(default="fixed", metadata={HASHED_WHEN_SET: 1})

    def __post_init__(self) -> None:
        # a list from JSON, a tuple from code: one hashable, comparable form
        object.__setattr__(self, "density_steps", tuple(self.density_steps))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, ComponentSpec) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeConfig:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for name in COMPONENT_FIELDS:
            spec = data.get(name)
            if spec is not None:
                kwargs[name] = ComponentSpec.of(spec["name"], spec.get("options"))
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProbeConfig:
        return cls.from_dict(json.loads(text))

    def hashed(self) -> dict[str, Any]:
        """What the hashes cover: every field but where it ran; a ``HASHED_WHEN_SET`` field
        (an optional kind's, say) only when it is set."""
        data = self.to_dict()
        for f in fields(self):
            unset = f.metadata.get(HASHED_WHEN_SET) and getattr(self, f.name) == f.default
            if f.name in UNHASHED or unset:
                del data[f.name]
        return data

    def _digest(self, leave_out: frozenset[str]) -> str:
        data = {k: v for k, v in self.hashed().items() if k not in leave_out}
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def run_id(self) -> str:
        """Stable name of this run: the same configuration always hashes the same."""
        return self._digest(frozenset())

    @property
    def scan_id(self) -> str:
        """Stable name of the c-scan this run belongs to (everything but c)."""
        return self._digest(frozenset({"c"}))

    @property
    def point_id(self) -> str:
        """Stable name of the point of a phase diagram: everything but c and the seeds."""
        return self._digest(frozenset({"c", "seed", "sgd_seed"}))

    @property
    def trace_id(self) -> str:
        """Stable name of the long run (``phasebench trace``) of this configuration: never the
        same as the probe run's ``run_id`` of the same configuration."""
        data = {"trace": self.hashed()}
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def with_c(self, c: float) -> ProbeConfig:
        return replace(self, c=float(c))


def _component_field(kind: kinds.Kind) -> tuple[str, Any, Any]:
    if kind.optional:
        return (
            kind.field,
            "ComponentSpec | None",
            field(default=None, metadata={HASHED_WHEN_SET: 1}),
        )
    return (kind.field, "ComponentSpec", field())


#: One probe run: train ``steps`` steps at eta = c / lambda0 and record loss and sharpness.
#: Keyword-only: a ComponentSpec per kind in a probe (``model``, ``dataset``, ``init``,
#: ``loss``, ``optimizer``, ``estimator``; an optional kind's defaults to None), and the
#: protocol's numbers.
ProbeConfig = make_dataclass(
    "ProbeConfig",
    [_component_field(kind) for kind in kinds.probe_kinds()],
    bases=(_Protocol,),
    frozen=True,
    kw_only=True,
)
ProbeConfig.__module__ = __name__  # pickled by reference: phasebench.config.ProbeConfig


def with_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """A stored configuration dict with the fields it lacks at their defaults: a file written
    before a field existed (``sharpness_batch``, say) ran with its default, so the same model
    and protocol compare equal across versions."""
    out = dict(config)
    for f in fields(ProbeConfig):
        if f.name in out:
            continue
        if f.default is not MISSING:
            out[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def value_at(config: Mapping[str, Any], key: str) -> Any:
    """The value a dotted key names in a configuration dict (``ProbeConfig.to_dict()`` or as
    stored): ``batch_size``, a component's name (``optimizer``) or one of its options
    (``model.width``). KeyError when the configuration has no such value."""
    field_name, dot, option = key.partition(".")
    value = config[field_name]
    if isinstance(value, Mapping) and "name" in value:  # a component
        return value.get("options", {})[option] if dot else value["name"]
    if dot:
        raise KeyError(key)
    return value
