"""Softmax cross-entropy, the paper's other loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class CrossEntropyLoss:
    """Mean softmax cross-entropy over the batch; targets are class indices."""

    name = "xent"

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs, targets)

    def encode_targets(self, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
        return labels.long()


def make() -> CrossEntropyLoss:
    return CrossEntropyLoss()
