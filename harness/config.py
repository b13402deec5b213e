"""The one frozen, serializable description of a probe run, and its stable hash.

A ``ProbeConfig`` names every component by its registered name with its full options (defaults
merged in), the seeds, the learning-rate constant c and the protocol's sizes. Its ``run_id``
(a hash of the canonical JSON) names the run in the results file; ``scan_id`` leaves out c, so
every c of one (model, data, init, seeds, ...) shares one lambda0; ``point_id`` leaves out the
seeds too: the point of a phase diagram that aggregates over seeds. Executors ship these
configurations, never live models. ``device`` is where the run executed, not what it is, so it
is not hashed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

Options = tuple[tuple[str, Any], ...]

#: Fields that describe where a run executed, not the experiment; they are not hashed.
UNHASHED = frozenset({"device"})


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
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


COMPONENT_FIELDS = ("model", "dataset", "init", "loss", "optimizer", "estimator")


@dataclass(frozen=True)
class ProbeConfig:
    """One probe run: train ``steps`` steps at eta = c / lambda0 and record loss and sharpness."""

    model: ComponentSpec
    dataset: ComponentSpec
    init: ComponentSpec
    loss: ComponentSpec
    optimizer: ComponentSpec
    estimator: ComponentSpec
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
    device: str = field(default="cpu", compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in COMPONENT_FIELDS:
            out[name] = getattr(self, name).to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeConfig:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for name in COMPONENT_FIELDS:
            spec = data[name]
            kwargs[name] = ComponentSpec.of(spec["name"], spec.get("options"))
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProbeConfig:
        return cls.from_dict(json.loads(text))

    def _digest(self, leave_out: frozenset[str]) -> str:
        data = {k: v for k, v in self.to_dict().items() if k not in UNHASHED | leave_out}
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

    def with_c(self, c: float) -> ProbeConfig:
        return replace(self, c=float(c))
