"""Orthogonal initialization drawn from an explicit generator."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def initialize(model: nn.Module, generator: torch.Generator, *, gain: float) -> nn.Module:
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, nn.Parameter) and weight.dim() >= 2:
            rows = weight.shape[0]
            cols = weight.numel() // rows
            flat = torch.randn(max(rows, cols), min(rows, cols), generator=generator)
            q, r = torch.linalg.qr(flat)
            q = q * torch.sign(torch.diagonal(r))
            q = q if rows >= cols else q.T
            weight.copy_(gain * q.reshape(weight.shape).to(weight.dtype))
        bias = getattr(module, "bias", None)
        if isinstance(bias, nn.Parameter):
            bias.zero_()
    return model
