"""Myrtle CNNs (5, 7, 10 layers) as in the authors' code: 3x3 convs, ReLU, average pooling, no bias.

``depth - 1`` convolutions of ``width`` channels (stride 1, "same" padding, ReLU after each); a
2x2 average pool follows the convolutions listed in ``POOL_AFTER``; then the spatial map is
averaged and a Linear layer gives the outputs.

The authors end with two more 2x2 average pools before flattening: on 32x32 images the map is
4x4 by then, so those two pools ARE the global average used here. The global average also lets
the same network take 28x28 images (3x3 maps), where two more 2x2 pools would leave nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from phasebench_builtins.models.options import image_shape, positive_int

#: depth -> indices (0-based) of the convolutions followed by a 2x2 average pool.
POOL_AFTER: dict[int, tuple[int, ...]] = {5: (1, 2, 3), 7: (1, 3, 5), 10: (2, 5, 8)}

#: three 2x2 pools must leave at least one pixel.
MIN_SIDE = 8


def build(input_shape: Sequence[int], num_outputs: int, *, depth: int, width: int) -> nn.Sequential:
    """The Myrtle CNN of ``depth`` layers (``depth - 1`` convs + the output Linear layer)."""
    channels = image_shape("myrtle", input_shape, MIN_SIDE)[0]
    num_outputs = positive_int("myrtle", "num_outputs", num_outputs)
    layers: list[nn.Module] = []
    for index in range(depth - 1):
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.ReLU()]
        channels = width
        if index in POOL_AFTER[depth]:
            layers.append(nn.AvgPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_outputs, bias=False)]
    return nn.Sequential(*layers)
