"""The dataset check: both splits load offline as a well-formed ``phasebench.data.Split``;
files not on this machine make it a skip."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from phasebench.errors import DataError
from phasebench.testing.common import PASSED, _first_line, _require


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    saved = os.environ.get("PHASEBENCH_OFFLINE")
    os.environ["PHASEBENCH_OFFLINE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PHASEBENCH_OFFLINE", None)
        else:
            os.environ["PHASEBENCH_OFFLINE"] = saved


def check_dataset(
    load: Callable[..., Any], options: Mapping[str, Any] | None = None, label: str = "dataset"
) -> str:
    """``load(split, data_dir=None, **options)`` for "train" and "test" returns a
    ``phasebench.data.Split``: finite float inputs (N, C, H, W) or (N, D), int64 labels (N,) in
    ``[0, num_classes)``, or with ``num_classes`` 1 finite float regression targets (N,).
    ``locate``, when present, lists ``(file name, Path | None)``. A ``DataError`` (files not on
    this machine; nothing is downloaded) makes the check ``"skipped: ..."``; ``fetch`` is never
    called."""
    from pathlib import Path

    import torch

    from phasebench.data import Split

    options = dict(options or {})
    locate = getattr(load, "locate", None)
    if locate is not None:
        found = locate(data_dir=None)
        _require(
            isinstance(found, list)
            and all(
                isinstance(item, tuple)
                and len(item) == 2
                and isinstance(item[0], str)
                and (item[1] is None or isinstance(item[1], Path))
                for item in found
            ),
            label,
            "locate(data_dir=None) must return a list of (file name, Path or None)",
        )
    for split_name in ("train", "test"):
        where = f"{label} ({split_name})"
        try:
            with _offline():
                split = load(split_name, data_dir=None, **options)
        except DataError as exc:
            return f"skipped: files not present ({_first_line(exc)[:160]})"
        _require(
            isinstance(split, Split),
            where,
            f"load returned {type(split).__name__}, not phasebench.data.Split",
        )
        inputs, labels = split.inputs, split.labels
        _require(
            isinstance(inputs, torch.Tensor)
            and inputs.is_floating_point()
            and inputs.dim() in (2, 4),
            where,
            "inputs must be a float tensor (N, C, H, W) or (N, D), got "
            f"{getattr(inputs, 'dtype', type(inputs).__name__)} "
            f"{tuple(getattr(inputs, 'shape', ()))}",
        )
        _require(len(split) > 0, where, "the split is empty")
        _require(
            isinstance(split.num_classes, int) and split.num_classes >= 1,
            where,
            f"num_classes must be a positive int, got {split.num_classes!r}",
        )
        regression = (
            split.num_classes == 1
            and isinstance(labels, torch.Tensor)
            and labels.is_floating_point()
            and labels.dim() == 1
        )
        if regression:
            _require(bool(torch.isfinite(labels).all()), where, "regression targets are not finite")
            _require(bool(torch.isfinite(inputs).all()), where, "inputs are not finite")
            continue
        _require(
            isinstance(labels, torch.Tensor) and labels.dtype == torch.int64 and labels.dim() == 1,
            where,
            f"labels must be an int64 tensor (N,) (or, with num_classes 1, float targets), got "
            f"{getattr(labels, 'dtype', labels)} {tuple(getattr(labels, 'shape', ()))}",
        )
        low, high = int(labels.min()), int(labels.max())
        _require(
            0 <= low and high < split.num_classes,
            where,
            f"labels range {low}..{high}, outside 0..{split.num_classes - 1}",
        )
        _require(bool(torch.isfinite(inputs).all()), where, "inputs are not finite")
    return PASSED
