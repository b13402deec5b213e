"""Which figures a results file gets, and their file names."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from phasebench.errors import UsageError
from phasebench.plotting.density import density_figure, run_quadratures, spectrum_quadrature
from phasebench.plotting.phase_diagram import (
    available_axes,
    key_values,
    phase_diagram_figure,
)
from phasebench.plotting.point_phases import point_phase_figure
from phasebench.plotting.points import (
    PointView,
    component_label,
    point_views,
    series_key,
    series_key_without,
)
from phasebench.plotting.style import DPI
from phasebench.plotting.trace_fields import get, traces_of
from phasebench.plotting.trace_summary import trace_summary_figure
from phasebench.plotting.trace_trajectories import trace_figure
from phasebench.plotting.trajectories import trajectory_figure
from phasebench.plotting.units_figure import unit_groups, units_figure
from phasebench.results.reader import load

AXIS_SLUG = {"d/w": "d-over-w", "1/w": "1-over-w", "index": "points"}


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def _point_slug(view: PointView) -> str:
    config = view.config
    return (
        f"{slug(component_label(config['model']))}-{slug(config['init']['name'])}-"
        f"{view.summary.point_id[:6]}"
    )


def figures(
    loaded: Mapping[str, Any],
    sharp_eps: float | None = None,
    all_scans: bool = False,
    x: str | None = None,
) -> Iterator[tuple[str, Figure]]:
    """(file name, figure) for every figure of ``plan``, built one at a time."""
    for name, build in plan(loaded, sharp_eps, all_scans, x):
        yield name, build()


def plan(
    loaded: Mapping[str, Any],
    sharp_eps: float | None = None,
    all_scans: bool = False,
    x: str | None = None,
    beside: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> list[tuple[str, Callable[[], Figure]]]:
    """(file name, figure builder) for every figure of a loaded results file:

    - Trajectories of the first scan (lowest seed, then SGD seed) of every point, or of every
      scan with ``all_scans``.
    - Points that differ only in depth and width (two or more): the phase diagram against d/w
      and 1/w (1/w alone for models without a depth).
    - The other points: one phase figure each, and when there are two or more of them, one
      diagram with a column per point.
    - Traces (``phasebench trace``): each one's trajectories on a log step axis, and a
      summary of their regimes over c.

    ``x`` (a configuration key: ``batch_size``, ``model.width``, ``optimizer``): instead of
    the depth/width series, the points that differ only in ``x`` form a phase diagram against
    it (one per value of everything else); the points alone get their own figure.
    - The same model in two or more learning-rate units (``lr_unit``), in this file or in
      ``beside`` (another loaded file, e.g. the same sweep with ``--lr-unit ggn``, or a
      list of them): their phase diagrams side by side, one panel per unit.
    - Spectral densities: one figure per stored spectrum (``phasebench spectrum``), and one
      per run or trace that stored densities (``--density-steps``), a curve per step.
    """
    views = point_views(loaded, sharp_eps)
    if isinstance(beside, Mapping):
        beside = [beside]
    others = [view for other in beside or () for view in point_views(other, sharp_eps)]
    out: list[tuple[str, Callable[[], Figure]]] = []
    for view in views:
        scans = view.summary.scans if all_scans else view.summary.scans[:1]
        for scan in scans:
            data = loaded["scans"][scan.scan_id]
            if not data["runs"]:
                continue
            name = (
                f"trajectories-{_point_slug(view)}-seed{scan.config['seed']}"
                f"-sgd{scan.config['sgd_seed']}.png"
            )
            out.append((name, partial(trajectory_figure, data)))
    if x is not None:
        return out + _against(views, x) + trace_plan(traces_of(loaded)) + _density_plan(loaded)
    series: dict[str, list[PointView]] = {}
    for view in views:
        series.setdefault(series_key(view), []).append(view)
    alone = []
    for members in series.values():
        axes = available_axes(members)
        if len(members) < 2 or axes == ["index"]:
            alone.extend(members)
            continue
        first = members[0].config
        base = slug(f"{first['model']['name']}-{first['init']['name']}-{first['dataset']['name']}")
        suffix = f"-{_series_id(members)}" if len(series) > 1 else ""
        for axis in axes:
            out.append(
                (
                    f"phase-diagram-{base}{suffix}-{AXIS_SLUG[axis]}.png",
                    partial(phase_diagram_figure, members, axis),
                )
            )
    for view in alone:
        out.append((f"phases-{_point_slug(view)}.png", partial(point_phase_figure, view)))
    if len(alone) >= 2:
        out.append(("phase-diagram-points.png", partial(phase_diagram_figure, alone, "index")))
    out += _units_plan([*views, *others]) + trace_plan(traces_of(loaded))
    return out + _density_plan(loaded)


#: What a trace's density is the spectrum of, by its provenance's ``operator``.
TRACE_OPERATORS = {"hessian": "the Hessian", "preconditioned": "$P^{-1/2} H P^{-1/2}$"}


def trace_plan(traces: list[Any]) -> list[tuple[str, Callable[[], Figure]]]:
    """The figures of a file's traces: each trace's trajectories and, when it took densities
    (``trace --density-steps``), its densities overlaid (a curve per step), and one summary
    over c (a series per configuration) when there is any trace."""
    out: list[tuple[str, Callable[[], Figure]]] = []
    for trace in traces:
        config = get(trace, "config") or {}
        label = component_label(config["model"]) if config.get("model") else "trace"
        model = slug(label)
        stem = (
            f"{model}-c{get(trace, 'c'):g}-seed{config.get('seed', 0)}"
            f"-sgd{config.get('sgd_seed', 0)}-{str(get(trace, 'trace_id', ''))[:6]}.png"
        )
        out.append((f"trace-{stem}", partial(trace_figure, trace)))
        curves = run_quadratures(trace)
        if curves:
            operator = (get(trace, "provenance") or {}).get("operator", "hessian")
            title = f"{label}, c = {get(trace, 'c'):g}, seed {config.get('seed', 0)}: trace"
            figure = partial(density_figure, curves, title, TRACE_OPERATORS.get(operator, operator))
            out.append((f"trace-density-{stem}", figure))
    if traces:
        out.append(("trace-summary.png", partial(trace_summary_figure, traces)))
    return out


def _against(views: list[PointView], x: str) -> list[tuple[str, Callable[[], Figure]]]:
    """``plot --x KEY``: a phase diagram against KEY per series of points differing only in it."""
    key_values(views, x)  # a key these configurations lack: one line
    series: dict[str, list[PointView]] = {}
    for view in views:
        series.setdefault(series_key_without(view, x), []).append(view)
    out: list[tuple[str, Callable[[], Figure]]] = []
    for index, members in enumerate(series.values()):
        if len(members) < 2:
            out.append(
                (f"phases-{_point_slug(members[0])}.png", partial(point_phase_figure, members[0]))
            )
            continue
        suffix = f"-{index + 1}" if len(series) > 1 else ""
        name = f"phase-diagram-against-{slug(x)}{suffix}.png"
        out.append((name, partial(phase_diagram_figure, members, x)))
    return out


def _units_plan(views: list[PointView]) -> list[tuple[str, Callable[[], Figure]]]:
    """The same model in two or more learning-rate units: its phase diagrams side by side."""
    out: list[tuple[str, Callable[[], Figure]]] = []
    for groups in unit_groups(views):
        first = groups[0][1][0].config
        base = slug(f"{first['model']['name']}-{first['init']['name']}-{first['dataset']['name']}")
        units = "-".join(unit for unit, _ in groups)
        out.append((f"phase-diagram-units-{base}-{units}.png", partial(units_figure, groups)))
    return out


def _density_plan(loaded: Mapping[str, Any]) -> list[tuple[str, Callable[[], Figure]]]:
    out: list[tuple[str, Callable[[], Figure]]] = []
    for spectrum_id, spectrum in sorted(loaded.get("spectra", {}).items()):
        config = spectrum["config"]
        title = (
            f"{component_label(config['model'])} {config['init']['name']} "
            f"{config['loss']['name']} on {config['dataset']['name']} at initialization"
        )
        curves = [("initialization", spectrum_quadrature(spectrum))]
        out.append((f"spectrum-{spectrum_id[:6]}.png", partial(density_figure, curves, title)))
    for scan in loaded["scans"].values():
        for run_id, run in sorted(scan["runs"].items(), key=lambda item: item[1]["c"]):
            curves = run_quadratures(run)
            if not curves:
                continue
            config = run["config"]
            title = f"{component_label(config['model'])}, c = {run['c']:g}, seed {config['seed']}"
            name = f"density-{slug(component_label(config['model']))}-c{run['c']:g}-{run_id[:6]}"
            out.append((f"{name}.png", partial(density_figure, curves, title)))
    return out


def _series_id(members: list[PointView]) -> str:
    return hashlib.sha256(series_key(members[0]).encode()).hexdigest()[:6]


def plot_file(
    path: str | Path,
    out_dir: str | Path | None = None,
    sharp_eps: float | None = None,
    all_scans: bool = False,
    x: str | None = None,
    beside: str | Path | Sequence[str | Path] | None = None,
) -> list[Path]:
    """Write the PNGs of a results file into ``out_dir`` (default ``<stem>-plots/`` next to the
    file, created if missing) and return their paths. ``beside``: another results file, or a
    list of them, whose points in other learning-rate units are drawn next to this file's. A
    missing or foreign file, or one without a finished run, raises ``UsageError``."""
    path = Path(path)
    loaded = load(path)
    if isinstance(beside, (str, Path)):
        beside = [beside]
    others = [load(Path(other)) for other in beside or ()]
    if (
        not any(scan["runs"] for scan in loaded["scans"].values())
        and not traces_of(loaded)
        and not loaded.get("spectra")
    ):
        raise UsageError(f"{path} holds no finished runs, traces or spectra yet; nothing to plot")
    out = Path(out_dir) if out_dir is not None else path.with_name(f"{path.stem}-plots")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory; pass another --out-dir")
    planned = plan(loaded, sharp_eps, all_scans, x, others)  # a bad --x: one line, first
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in planned:
        target = out / name
        build().savefig(target, dpi=DPI)
        written.append(target)
    return written
