"""What the built-in loggers share: the names a scan and a run are shown under, and a
configuration as flat parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from phasebench.analysis.labels import config_columns, point_label


def scan_name(config: Mapping[str, Any]) -> str:
    """'fcn(depth=2,width=16) he mse sgd on fashion-mnist-subset seed 0 sgd 0'."""
    return f"{point_label(config)} seed {config['seed']} sgd {config['sgd_seed']}"


def run_name(c: float) -> str:
    return f"c={c:.4g}"


def parameters(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration flattened as the tables flatten it (``model.depth``), c left out."""
    return config_columns(config)


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(float(value))
