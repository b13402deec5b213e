"""What the figures draw, read from a loaded results file: per point, the critical constants
over seeds (``phasebench.analysis.aggregates.Aggregate``: found values, lower bounds and
undetermined counts kept apart, so nothing is ever invented), the point's depth and width, and
the titles (``phasebench.analysis.labels``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from phasebench.analysis.aggregates import Aggregate
from phasebench.analysis.labels import COMPONENTS, WORDS, component_label, describe, wrap
from phasebench.config import with_defaults
from phasebench.results.summary import PointSummary, point_summaries, scan_summaries

#: The model options that place a point on the phase diagram's x axis.
GEOMETRY = ("depth", "width")

__all__ = [
    "COMPONENTS",
    "GEOMETRY",
    "WORDS",
    "PointView",
    "component_label",
    "describe",
    "point_views",
    "protocol",
    "series_key",
    "series_key_without",
    "wrap",
]


@dataclass
class PointView:
    """One point of a phase diagram: its summary, constants and geometry."""

    summary: PointSummary

    @property
    def constants(self) -> dict[str, Aggregate]:
        """Each critical constant over the point's seeds (``phasebench.analysis.aggregates``)."""
        return self.summary.aggregates

    @cached_property
    def config(self) -> dict[str, Any]:
        """The point's configuration, with the fields an older file did not store at their
        defaults (``with_defaults``): points of two versions' files group together."""
        return with_defaults(self.summary.config)

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
        elif c_max.bounded:
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


def point_views(loaded: Mapping[str, Any], sharp_eps: float | None = None) -> list[PointView]:
    """Every point of a loaded file that has scans, with the constants each scan stored (or
    recomputed with ``sharp_eps``, an explicit choice), sorted by (depth, width) where the model
    has them, else by label."""
    views = [PointView(summary) for summary in point_summaries(scan_summaries(loaded, sharp_eps))]
    return sorted(
        views, key=lambda v: (v.depth or 0.0, v.width or 0.0, component_label(v.config["model"]))
    )


def protocol(config: Mapping[str, Any]) -> str:
    """The protocol sizes in one line: steps, batch size and the fixed batches."""
    keys = (
        ("steps", "T"),
        ("batch_size", "B"),
        ("sharpness_examples", "sharpness batch"),
        ("loss_examples", "loss batch"),
    )
    return ", ".join(f"{label}={config[key]}" for key, label in keys if key in config)


def series_key_without(view: PointView, key: str) -> str:
    """Points that differ only in the value of ``key`` (``batch_size``, ``model.width``,
    ``optimizer``) belong to one phase diagram against it."""
    config = json.loads(json.dumps(view.config, default=str))
    field, dot, option = key.partition(".")
    if isinstance(config.get(field), dict) and "name" in config[field]:
        if dot:
            config[field].get("options", {}).pop(option, None)
        else:
            config.pop(field)
    else:
        config.pop(field, None)
    return json.dumps(config, sort_keys=True)


def series_key(view: PointView) -> str:
    """Points that differ only in depth and width belong to one phase diagram."""
    config = view.config
    rest = {k: v for k, v in config.items() if k != "model"}
    model = dict(config["model"])
    model["options"] = {k: v for k, v in view.model_options.items() if k not in GEOMETRY}
    return json.dumps({**rest, "model": model}, sort_keys=True, default=str)
