"""What the figures draw, read from a loaded results file: per point, the critical constants
over seeds (found values, lower bounds and undetermined counts kept apart, so nothing is ever
invented), the point's depth and width, and titles naming the components."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from phasebench import kinds
from phasebench.probe.constants import NAMES, Constant
from phasebench.probe.summary import (
    PointSummary,
    ScanSummary,
    point_summaries,
    scan_summaries,
)

#: The model options that place a point on the phase diagram's x axis.
GEOMETRY = ("depth", "width")
COMPONENTS = tuple(kind.field for kind in kinds.probe_kinds())
#: The word before each component in a title ("init he", "on fashion-mnist").
WORDS = {kind.field: f"{kind.label} " if kind.label else "" for kind in kinds.probe_kinds()}


@dataclass(frozen=True)
class ConstantStats:
    """One critical constant of one point, over its scans (seeds).

    ``found`` holds the values of the scans that determined it; ``lower_bounds`` the largest c
    tried by each scan whose grid ended below it (status "above-grid": the true value is
    higher);
    ``statuses`` counts every scan's status.
    """

    name: str
    found: tuple[float, ...]
    lower_bounds: tuple[float, ...]
    statuses: Mapping[str, int]
    of: int

    @property
    def n(self) -> int:
        return len(self.found)

    @property
    def determined(self) -> bool:
        return self.n > 0

    @property
    def mean(self) -> float:
        return float(np.mean(self.found)) if self.found else math.nan

    @property
    def min(self) -> float:
        return float(np.min(self.found)) if self.found else math.nan

    @property
    def max(self) -> float:
        return float(np.max(self.found)) if self.found else math.nan

    @property
    def lower_bound(self) -> float:
        """The largest lower bound (nan when no scan gave one)."""
        return float(np.max(self.lower_bounds)) if self.lower_bounds else math.nan

    def note(self) -> str:
        """'' when every scan determined it; else what the other scans say, e.g. '1/2 seeds;
        1 above grid'."""
        if self.n == self.of:
            return ""
        parts = [f"{self.n}/{self.of} seeds"]
        words = {
            "not-before-divergence": "diverged first",
            "above-grid": "above grid",
            "no-runs": "no runs",
        }
        for status, count in sorted(self.statuses.items()):
            if status != "found":
                parts.append(f"{count} {words.get(status, status)}")
        return "; ".join(parts)


@dataclass
class PointView:
    """One point of a phase diagram: its summary, constants and geometry."""

    summary: PointSummary
    constants: dict[str, ConstantStats]

    @property
    def config(self) -> dict[str, Any]:
        return self.summary.config

    @property
    def model_options(self) -> dict[str, Any]:
        return dict(self.config["model"].get("options", {}))

    @property
    def depth(self) -> float | None:
        return _number(self.model_options.get("depth"))

    @property
    def width(self) -> float | None:
        return _number(self.model_options.get("width"))

    def cs(self) -> np.ndarray:
        """Every c the scans of this point tried, sorted, without repeats."""
        return np.unique([run.c for scan in self.summary.scans for run in scan.runs])

    def boundaries(self) -> tuple[float, float, float, bool]:
        """The phase boundaries (c_loss, c_sharp, c_max) used to shade the regions, and whether
        divergence was seen above the last one.

        A boundary the scans left undetermined collapses onto the next one (no catapult before
        divergence means the region is empty). c_max above the grid is its lower bound and the
        region above it was not probed. The boundaries are made non-decreasing (a c_sharp below
        c_loss shades no loss catapult), while the markers still show the measured values.
        All nan when no scan kept a stable run.
        """
        c_max = self.constants["c_max"]
        if c_max.determined:
            top, diverges = c_max.mean, True
        elif c_max.lower_bounds:
            top, diverges = c_max.lower_bound, False
        else:
            return math.nan, math.nan, math.nan, True
        c_loss, c_sharp = self.constants["c_loss"], self.constants["c_sharp"]
        b_loss = min(c_loss.mean if c_loss.determined else top, top)
        b_sharp = min(max(c_sharp.mean if c_sharp.determined else top, b_loss), top)
        return b_loss, b_sharp, top, diverges


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _lower_bound(value: Constant, scan: ScanSummary) -> float:
    """An above-grid constant is above the largest c the scan tried (c_max stores that c)."""
    return value.value if not math.isnan(value.value) else max(run.c for run in scan.runs)


def constant_stats(summary: PointSummary) -> dict[str, ConstantStats]:
    out = {}
    for name in NAMES:
        values = [scan.constants[name] for scan in summary.scans]
        out[name] = ConstantStats(
            name=name,
            found=tuple(v.value for v in values if v.determined),
            lower_bounds=tuple(
                _lower_bound(v, scan)
                for v, scan in zip(values, summary.scans, strict=True)
                if v.status == "above-grid" and scan.runs
            ),
            statuses=dict(Counter(v.status for v in values)),
            of=len(values),
        )
    return out


def point_views(loaded: Mapping[str, Any], sharp_eps: float | None = None) -> list[PointView]:
    """Every point of a loaded file that has scans, constants recomputed with each scan's
    recorded c_sharp threshold or with ``sharp_eps``, sorted by (depth, width) where the model
    has them, else by label."""
    views = [
        PointView(summary, constant_stats(summary))
        for summary in point_summaries(scan_summaries(loaded, sharp_eps))
    ]
    return sorted(
        views, key=lambda v: (v.depth or 0.0, v.width or 0.0, component_label(v.config["model"]))
    )


def component_label(spec: Mapping[str, Any], leave_out: Sequence[str] = ()) -> str:
    """'fcn(depth=2, width=64)' from a component's {"name", "options"}."""
    options = {k: v for k, v in spec.get("options", {}).items() if k not in leave_out}
    inner = ", ".join(f"{k}={v}" for k, v in options.items())
    return f"{spec['name']}({inner})" if inner else str(spec["name"])


def describe(
    config: Mapping[str, Any],
    leave_out_model: Sequence[str] = (),
    width: int = 100,
    leave_out_fields: Sequence[str] = (),
) -> str:
    """A title naming model, dataset, initialization, loss, optimizer and the estimator (all
    but ``leave_out_fields``), wrapped at " · " separators into lines of about ``width``."""
    parts = [
        WORDS[f] + component_label(config[f], leave_out_model if f == "model" else ())
        for f in COMPONENTS
        if config.get(f) is not None and f not in leave_out_fields
    ]
    if len(parts) >= 2 and parts[1].startswith("on ") and "model" not in leave_out_fields:
        parts[:2] = [f"{parts[0]} {parts[1]}"]
    return wrap(parts, width)


def wrap(parts: Sequence[str], width: int = 100, sep: str = " · ") -> str:
    """Join ``parts`` with ``sep``, starting a new line before a part that would pass ``width``."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(sep) + len(part) <= width:
            lines[-1] += sep + part
        else:
            lines.append(part)
    return "\n".join(lines)


def protocol(config: Mapping[str, Any]) -> str:
    """The protocol sizes in one line: steps, batch size and the fixed batches."""
    keys = (
        ("steps", "T"),
        ("batch_size", "B"),
        ("sharpness_examples", "sharpness batch"),
        ("loss_examples", "loss batch"),
    )
    return ", ".join(f"{label}={config[key]}" for key, label in keys if key in config)


def series_key(view: PointView) -> str:
    """Points that differ only in depth and width belong to one phase diagram."""
    config = view.config
    rest = {k: v for k, v in config.items() if k != "model"}
    model = dict(config["model"])
    model["options"] = {k: v for k, v in view.model_options.items() if k not in GEOMETRY}
    return json.dumps({**rest, "model": model}, sort_keys=True, default=str)
