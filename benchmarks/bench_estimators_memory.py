"""Peak memory of one gradient vs one sharpness estimate, each in a fresh process.

Run as ``python bench_estimators_memory.py {gradient|sharpness|exact} EXAMPLES``; prints JSON
with ``baseline`` (peak RSS after torch, model and data are loaded and one forward pass has run)
and ``peak`` (peak RSS after the measured work), both in bytes. ``VmHWM`` is the kernel's
high-water mark of resident memory: it sees every allocation torch makes (tracemalloc does not
see torch's C++ allocator), and a fresh process per measurement keeps them apart.
"""

from __future__ import annotations

import json
import resource
import sys

import torch

import phasebench
from phasebench.errors import UsageError


def maxrss() -> int:
    """This process's peak resident memory in bytes: VmHWM (reset by exec, unlike ru_maxrss,
    which a child started from a large pytest process inherits), else ru_maxrss."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    sizes = [784, 256, 256, 256, 10]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def problem(examples: int):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(examples, 784, generator=gen)
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (examples,), generator=gen), 10).float()
    return mlp(), x, y


def half_mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return 0.5 * (outputs - targets).square().mean()


def main() -> None:
    torch.set_num_threads(1)
    what, examples = sys.argv[1], int(sys.argv[2])
    model, x, y = problem(examples)
    from phasebench.hessian import api  # noqa: F401  (imports counted in the baseline)
    from phasebench_builtins.estimators import lanczos  # noqa: F401

    with torch.no_grad():
        model(x)
    baseline = maxrss()
    out: dict[str, object] = {"what": what}
    if what == "gradient":
        grads = torch.autograd.grad(half_mse(model(x), y), list(model.parameters()))
        out["norm"] = float(sum(g.square().sum() for g in grads))
    elif what == "sharpness":
        result = phasebench.sharpness(model, half_mse, x, y, backend="graph")
        out["lambda_max"], out["hvps"] = result.lambda_max, result.hvps
    else:
        try:
            phasebench.sharpness(model, half_mse, x, y, estimator="exact")
            out["refused"] = False
        except UsageError as exc:
            out["refused"], out["message"] = True, str(exc)
    out["baseline"], out["peak"] = baseline, maxrss()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
