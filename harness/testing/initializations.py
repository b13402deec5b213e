"""The initialization check: the result depends only on the generator it is given (same seed,
same parameters; another seed, other parameters) and torch's global RNG is left alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from phasebench.testing.common import (
    NUM_OUTPUTS,
    PASSED,
    ConformanceError,
    _first_line,
    _global_rng_kept,
    _require,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


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


def _model_runs(make: Callable[[], nn.Module], inputs: torch.Tensor, where: str) -> None:
    """The model alone, before any initialization, builds and maps ``inputs`` to finite
    outputs: otherwise the model is broken, and the error says so (not the initialization)."""
    import torch

    blame = f"{where}: cannot be checked, the model itself"
    fix = "fix the model first (its own check: check_component('model', ...))"
    try:
        with torch.no_grad():
            outputs = make()(inputs)
    except Exception as exc:
        raise ConformanceError(
            f"{blame} raised {_first_line(exc)} before any initialization; {fix}"
        ) from exc
    if not (isinstance(outputs, torch.Tensor) and bool(torch.isfinite(outputs).all())):
        raise ConformanceError(
            f"{blame} gives outputs that are not finite before any initialization; {fix}"
        )


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
    ``models``: ``(name, make_fresh_model, input_shape)``; a model that does not build, or
    gives non-finite outputs before any initialization, is reported as the broken one."""
    import torch
    from torch import nn

    options = dict(options or {})
    targets = [("a Sequential of 3 Linear layers", _small_mlp, (6,)), *models]
    with _global_rng_kept():
        for model_name, make, shape in targets:
            where = f"{label} on {model_name}"
            inputs = torch.randn(2, *shape, generator=torch.Generator().manual_seed(7))
            _model_runs(make, inputs, where)
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
