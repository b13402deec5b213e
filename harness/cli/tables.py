"""Rich tables of critical constants, shared by ``run``, ``sweep`` and ``show``."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.table import Table

from phasebench.cli.markup import literal
from phasebench.probe.constants import NAMES, Aggregate, Constant
from phasebench.probe.summary import PointSummary, ScanSummary, point_label

STATUS_MARK = {"not-before-divergence": "div", "above-grid": ">grid", "no-runs": "-"}


def _constant(value: Constant) -> str:
    if value.determined:
        return f"{value.value:.3g}"
    if value.status == "above-grid" and not math.isnan(value.value):
        return f">={value.value:.3g}"
    return STATUS_MARK.get(value.status, value.status)


def _aggregate(a: Aggregate) -> str:
    if a.n == 0:
        return "undetermined"
    text = f"{a.mean:.3g} ± {a.std:.2g}"
    return text if a.n == a.of else f"{text} ({a.n}/{a.of})"


def _flat(config: dict) -> dict[str, str]:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and "name" in value:
            out[key] = value["name"]
            for option, v in value.get("options", {}).items():
                out[f"{option}"] = str(v)
        elif key not in ("device",):
            out[key] = str(value)
    return out


def point_labels(points: Sequence[PointSummary]) -> tuple[list[str], str]:
    """Short labels (what differs between the points) and a caption (what they share)."""
    flats = [_flat(p.config) for p in points]
    if len(points) < 2:
        return [""] * len(points), point_label(points[0].config) if points else ""
    keys = [k for k in flats[0] if len({f.get(k) for f in flats}) > 1]
    labels = [" ".join(f"{k}={f.get(k)}" for k in keys) for f in flats]
    return labels, point_label(points[0].config) + " (first point; others differ as labelled)"


def constants_table(points: Sequence[PointSummary]) -> Table:
    """Per scan (seed, SGD seed) and aggregated over seeds: lambda0, L0 and the constants."""
    labels, caption = point_labels(points)
    table = Table(
        title="critical constants (div: undetermined, the scan diverged first)",
        caption=literal(caption),
    )
    columns = ("point", "seed", "sgd", "lambda0", "L0", *NAMES)
    for column in columns if len(points) > 1 else columns[1:]:
        table.add_column(column, overflow="fold")
    for point, label in zip(points, labels, strict=True):
        first = [literal(label)] if len(points) > 1 else []
        for scan in point.scans:
            table.add_row(
                *first,
                str(scan.config["seed"]),
                str(scan.config["sgd_seed"]),
                f"{scan.lambda0:.4g}",
                f"{scan.loss0:.4g}",
                *(_constant(scan.constants[n]) for n in NAMES),
            )
            first = [""] if first else []
        if len(point.scans) > 1:
            table.add_row(
                *first,
                "[b]all[/b]",
                "",
                _aggregate(point.lambda0),
                _aggregate(point.loss0),
                *(_aggregate(point.aggregates[n]) for n in NAMES),
                end_section=True,
            )
    return table


def phases_table(scan: ScanSummary) -> Table:
    """Per c of one scan: the phase it falls in, from the loss and sharpness ratios."""
    table = Table(title=f"phases of seed {scan.config['seed']}, sgd seed {scan.config['sgd_seed']}")
    for column in ("c", "max L_t/L0", "max lambda_t/lambda0", "barrier", "phase"):
        table.add_column(column)
    for run in scan.runs:
        if run.diverged:
            phase = "[red]divergence[/red]"
        elif run.sharp_ratio_max > 1.0 + scan.sharp_eps and run.loss_ratio_max > 1.0:
            phase = "[magenta]loss-sharpness catapult[/magenta]"
        elif run.loss_ratio_max > 1.0:
            phase = "[yellow]loss catapult[/yellow]"
        elif run.sharp_ratio_max < 0.95:
            phase = "[cyan]sharpness reduction[/cyan]"
        else:
            phase = "[green]lazy: loss falls[/green]"
        table.add_row(
            f"{run.c:.3g}",
            "-" if run.diverged else f"{run.loss_ratio_max:.3g}",
            "-" if run.diverged else f"{run.sharp_ratio_max:.3g}",
            "-" if run.diverged else ("yes" if run.barrier else "no"),
            phase,
        )
    return table
