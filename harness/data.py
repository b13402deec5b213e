"""The in-memory form every dataset plugin returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(frozen=True)
class Split:
    """One split of a dataset, preprocessed and in memory.

    ``inputs``: float tensor (N, C, H, W) for images or (N, D) for vectors.
    ``labels``: int64 tensor (N,) of class indices (losses encode them: one-hot for MSE), or,
    with ``num_classes`` 1, the scalar regression targets (a float tensor).
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.labels):
            raise ValueError(
                f"{self.name or 'dataset'}: {len(self.inputs)} inputs but {len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one example, e.g. (1, 28, 28)."""
        return tuple(self.inputs.shape[1:])
