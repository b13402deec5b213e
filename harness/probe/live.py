"""Live objects as components: an ``nn.Module`` factory or a dataset's tensors, given to
``phasebench.probe``/``sweep`` in a Python session, registered in a copy of the session's
registries under a generated name (``live-model-MyNet-3f2a1c``). The core reaches them through
the registries like any plugin's; they live in this process only, so only the ``local``
executor runs them, and a results file that names one cannot be rerun from the file alone
(``phasebench run --rerun`` says so). Importing this never imports torch."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from typing import Any

from phasebench.plugins import Components
from phasebench.registry import Registration, Registry

#: The name of every live registration starts with this.
PREFIX = "live-"
#: The plugin a live registration is credited to (tables and messages show it).
PLUGIN = "session (in-process: not re-runnable from the results file alone)"

_COUNTER = itertools.count()


def is_live(name: object) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def session(components: Components) -> Components:
    """A copy of ``components`` whose registries can take live registrations (the original,
    the process-wide one say, is left as it is)."""
    copy = Components(
        kinds=list(components.kinds),
        registries={},
        plugins=list(components.plugins),
        failures=list(components.failures),
    )
    for kind, registry in components.registries.items():
        fresh = Registry(kind)
        for registration in registry:
            fresh.add(registration)
        copy.registries[kind] = fresh
    return copy


def _name(kind: str, obj: Any) -> str:
    label = obj if isinstance(obj, str) else getattr(obj, "__name__", None) or type(obj).__name__
    label = "".join(ch if ch.isalnum() else "-" for ch in label).strip("-") or "object"
    digest = hashlib.sha256(f"{id(obj)}-{next(_COUNTER)}".encode()).hexdigest()[:6]
    return f"{PREFIX}{kind}-{label}-{digest}"


def register(components: Components, kind: str, target: Any, label_of: Any = None) -> str:
    """Register ``target`` as a component of ``kind`` in ``components`` (a ``session`` copy);
    returns its generated name."""
    name = _name(kind, label_of if label_of is not None else target)
    components.registries[kind].add(
        Registration(kind, name, f"a live {kind} of this Python session", target, plugin=PLUGIN)
    )
    return name


def model_factory(build: Callable[..., Any]) -> Callable[..., Any]:
    """A model component from ``build(input_shape, num_outputs) -> nn.Module``."""

    def model(input_shape: tuple[int, ...], num_outputs: int) -> Any:
        return build(tuple(input_shape), int(num_outputs))

    return model


def tensor_dataset(inputs: Any, labels: Any, num_classes: int | None = None) -> Callable[..., Any]:
    """A dataset component from an (inputs, labels) pair of tensors: inputs (N, ...) float,
    labels (N,) class indices; both splits are these tensors."""
    import torch

    from phasebench.data import Split
    from phasebench.errors import ParameterError

    inputs, labels = torch.as_tensor(inputs), torch.as_tensor(labels)
    if not inputs.is_floating_point():
        inputs = inputs.float()
    if labels.is_floating_point() or labels.ndim != 1 or len(labels) != len(inputs):
        raise ParameterError(
            f"dataset: labels must be N integer class indices for the N = {len(inputs)} inputs, "
            f"got a {labels.dtype} tensor of shape {tuple(labels.shape)}",
            "dataset",
        )
    classes = int(num_classes) if num_classes is not None else int(labels.max()) + 1
    split = Split(inputs, labels.long(), classes, name="live dataset")

    def dataset(split_name: str, data_dir: str | None = None) -> Split:
        return split

    return dataset
