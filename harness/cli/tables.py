"""Rich tables of critical constants, shared by ``run``, ``sweep`` and ``show``. The phase
rules, the aggregates and the labels come from ``phasebench.analysis``."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.table import Table

from phasebench.analysis import phases
from phasebench.analysis.aggregates import Aggregate
from phasebench.analysis.labels import c_label, difference_labels, point_label, unit_of
from phasebench.analysis.phases import NAMES, Constant
from phasebench.cli.markup import literal
from phasebench.results.summary import PointSummary, ScanSummary

STATUS_MARK = {
    phases.NOT_BEFORE_DIVERGENCE: "div",
    phases.ABOVE_GRID: ">grid",
    phases.NO_RUNS: "-",
    phases.UNMEASURED: "unmeasured",
}

PHASE_MARKUP = {
    phases.DIVERGENCE: "[red]divergence[/red]",
    phases.LOSS_SHARPNESS_CATAPULT: "[magenta]loss-sharpness catapult[/magenta]",
    phases.LOSS_CATAPULT: "[yellow]loss catapult[/yellow]",
    phases.REDUCTION: "[cyan]sharpness reduction[/cyan]",
    phases.LAZY: "[green]lazy: loss falls[/green]",
    phases.UNMEASURED: "[bold red]unmeasured (sharpness not finite or not converged)[/bold red]",
}


def _constant(value: Constant) -> str:
    if value.determined:
        return f"{value.value:.3g}"
    if math.isfinite(value.lower_bound):
        return f">={value.lower_bound:.3g}"
    return STATUS_MARK.get(value.status, value.status)


def _aggregate(a: Aggregate) -> str:
    """'2.41 ± 0.41', '2.83 ± 0 (1/2)', '>= 13.9 (2 of 3 seeds)', 'unmeasured' ..."""
    parts = []
    if a.n:
        text = f"{a.mean:.3g} ± {a.std:.2g}"
        parts.append(text if a.n == a.of else f"{text} ({a.n}/{a.of})")
    if a.bounds:
        parts.append(f">= {a.lower_bound:.3g} ({a.bounds} of {a.of} seeds)")
    if a.unmeasured:
        parts.append(f"{a.unmeasured} unmeasured" if parts else "unmeasured")
    return "; ".join(parts) or "undetermined"


def point_labels(points: Sequence[PointSummary]) -> tuple[list[str], str]:
    """Short labels (what differs between the points) and a caption (what they share)."""
    if len(points) < 2:
        return [""] * len(points), point_label(points[0].config) if points else ""
    labels = difference_labels([p.config for p in points])
    return labels, point_label(points[0].config) + " (first point; others differ as labelled)"


def constants_table(points: Sequence[PointSummary]) -> Table:
    """Per scan (seed, SGD seed) and aggregated over seeds: lambda0, L0 and the constants."""
    labels, caption = point_labels(points)
    units = sorted({unit_of(p.config) for p in points} - {"hessian"})
    title = "critical constants (div: undetermined, the scan diverged first)"
    if units:
        title = f"critical constants in {', '.join(c_label(u) for u in units)} (div: undetermined)"
    table = Table(title=title, caption=literal(caption))
    extra = ("lambda_unit",) if units else ()
    columns = ("point", "seed", "sgd", "lambda0", *extra, "L0", *NAMES)
    for column in columns if len(points) > 1 else columns[1:]:
        table.add_column(column, overflow="fold")
    for point, label in zip(points, labels, strict=True):
        first = [literal(label)] if len(points) > 1 else []
        for scan in point.scans:
            lambda0 = f"{scan.lambda0:.4g}"
            table.add_row(
                *first,
                str(scan.config["seed"]),
                str(scan.config["sgd_seed"]),
                lambda0 if scan.lambda0_measured else f"{lambda0} (unmeasured)",
                *([f"{scan.lambda_unit:.4g} ({unit_of(scan.config)})"] if units else []),
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
                *([""] if units else []),
                _aggregate(point.loss0),
                *(_aggregate(point.aggregates[n]) for n in NAMES),
                end_section=True,
            )
    return table


def phases_table(scan: ScanSummary) -> Table:
    """Per c of one scan: the phase it falls in (``phasebench.analysis.phases.phase_of``)."""
    table = Table(title=f"phases of seed {scan.config['seed']}, sgd seed {scan.config['sgd_seed']}")
    for column in ("c", "max L_t/L0", "max lambda_t/lambda0", "barrier", "phase"):
        table.add_column(column)
    for run in scan.runs:
        sharp = f"{run.sharp_ratio_max:.3g}" if run.measured else "unmeasured"
        table.add_row(
            f"{run.c:.3g}",
            "-" if run.diverged else f"{run.loss_ratio_max:.3g}",
            "-" if run.diverged else sharp,
            "-" if run.diverged else ("yes" if run.barrier else "no"),
            PHASE_MARKUP[phases.phase_of(run, scan.sharp_eps)],
        )
    return table
