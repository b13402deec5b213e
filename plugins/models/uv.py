"""The uv model of the catapult theory: ``f(x) = v^T u x / sqrt(n)``, u, v in R^n.

On the theory's problem (``input_shape=(1,)``, ``num_outputs=1``) the model is exactly that
formula, with ``u = model.u.weight[:, 0]`` and ``v = model.v.weight[0]``. With ``num_outputs=K``
the output layer holds K vectors v_k and ``f_k = v_k^T u x / sqrt(n)``.

Any other input is first reduced to a scalar by a FIXED projection,
``x -> p^T flatten(x) / sqrt(D)`` with ``p ~ N(0, 1)^D`` drawn from
``torch.Generator().manual_seed(projection_seed)``: the same on every machine, a buffer (not a
parameter), so training and the Hessian see only u and v. For inputs standardized per example
the projected scalar has variance about 1.

The 1/sqrt(n) is part of the forward pass (the NTK parametrization of the theory), so the
output layer declares ``init_fan_in = 1``: an initialization that draws the last layer with
variance 1/fan_in (``lecun``, ``he``) draws v ~ N(0, 1). ``lecun`` gives the theory's
u, v ~ N(0, 1) exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from phasebench_builtins.models.options import example_shape, positive_int


class UVModel(nn.Module):
    """``f = v(u(project(x))) / sqrt(n)`` with two bias-free Linear layers ``u`` and ``v``."""

    def __init__(self, input_size: int, num_outputs: int, width: int, projection_seed: int):
        super().__init__()
        self.width = width
        self.input_size = input_size
        if input_size > 1:
            generator = torch.Generator().manual_seed(projection_seed)
            self.register_buffer("projection", torch.randn(input_size, generator=generator))
        else:
            self.register_buffer("projection", None)
        self.u = nn.Linear(1, width, bias=False)
        self.v = nn.Linear(width, num_outputs, bias=False)
        self.v.init_fan_in = 1  # the forward's 1/sqrt(n) already does the fan-in scaling

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """One scalar per example, shape (N, 1)."""
        x = x.reshape(x.shape[0], -1)
        if self.projection is None:
            return x
        return (x @ self.projection.to(x.dtype) / math.sqrt(self.input_size)).unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.v(self.u(self.project(x))) / math.sqrt(self.width)

    def extra_repr(self) -> str:
        return f"width={self.width}, input_size={self.input_size}"


def build(
    input_shape: Sequence[int], num_outputs: int, *, width: int, projection_seed: int
) -> UVModel:
    """The uv model of width ``width`` (n) for examples of ``input_shape``."""
    shape = example_shape("uv", input_shape)
    num_outputs = positive_int("uv", "num_outputs", num_outputs)
    return UVModel(math.prod(shape), num_outputs, width, projection_seed)
