"""ResNet-18 and -34 (basic blocks), as in the authors' code, normalization removed by default.

Stem: 7x7 convolution of ``width`` channels, stride 2; ReLU; 3x3 max pool, stride 2. Then four
stages of basic blocks (2-2-2-2 for 18, 3-4-6-3 for 34) with ``width * 2**stage`` channels, the
first block of stages 2-4 at stride 2 with a 1x1 projection shortcut. Then the spatial mean and
the output Linear layer (registered last). Convolutions have no bias.

``norm``: ``"none"`` (the paper's), ``"layer"`` (``GroupNorm(1, C)``: each example normalized over
channels and space) or ``"batch"`` (``BatchNorm2d`` on batch statistics only, no running
averages, so the model stays a pure function of its parameters and batch). Where a norm sits:
after the stem convolution, after each block convolution and after each projection.
``bias``: whether the output Linear layer has a bias (the authors' Flax Dense has one, zero at
init; off by default here, like every other built-in model).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from phasebench_builtins.models.options import image_shape, positive_int

STAGES: dict[int, tuple[int, ...]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
NORMS = ("none", "layer", "batch")

#: the stem and stages halve the resolution five times; smaller images collapse to 1x1 early.
MIN_SIDE = 16


def make_norm(norm: str, channels: int) -> nn.Module:
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    if norm == "batch":
        return nn.BatchNorm2d(channels, track_running_stats=False)
    return nn.Identity()


class BasicBlock(nn.Module):
    """conv3x3 - norm - ReLU - conv3x3 - norm, plus the (projected) input, then ReLU."""

    def __init__(self, in_channels: int, channels: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, padding=1, bias=False)
        self.norm1 = make_norm(norm, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, padding=1, bias=False)
        self.norm2 = make_norm(norm, channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), make_norm(norm, channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return torch.relu(self.shortcut(x) + y)


class ResNet(nn.Module):
    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        stages: Sequence[int],
        width: int,
        norm: str,
        bias: bool,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, 2, padding=3, bias=False),
            make_norm(norm, width),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, padding=1),
        )
        blocks: list[nn.Module] = []
        channels = width
        for stage, size in enumerate(stages):
            for index in range(size):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(BasicBlock(channels, width * 2**stage, stride, norm))
                channels = width * 2**stage
        self.blocks = nn.Sequential(*blocks)
        self.output = nn.Linear(channels, num_outputs, bias=bias)
        # the first operation, a convolution, is linear in its weights (docs/plugins.md)
        self.phasebench_linear_first = "stem.0"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.output(x.mean(dim=(2, 3)))


def build(
    input_shape: Sequence[int],
    num_outputs: int,
    *,
    depth: int,
    width: int,
    norm: str,
    bias: bool,
) -> ResNet:
    """ResNet-``depth`` (18 or 34) of base width ``width`` on images of ``input_shape``."""
    channels = image_shape("resnet", input_shape, MIN_SIDE)[0]
    num_outputs = positive_int("resnet", "num_outputs", num_outputs)
    return ResNet(channels, num_outputs, STAGES[depth], width, norm, bias)
