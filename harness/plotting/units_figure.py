"""Phase diagrams of the same model in different learning-rate units, side by side.

``unit_groups(views)`` finds points that differ only in ``lr_unit`` (and depth / width): the
same model, data and protocol with eta = c / lambda measured in the Hessian, the GGN or the NTK.
``units_figure(groups, axis)`` draws one panel per unit, each with its own c axis
(``c = eta * lambda_ggn``), so where each phase boundary falls in each unit can be compared.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from matplotlib.figure import Figure

from phasebench.analysis.labels import UNIT_SYMBOLS, c_label, unit_of
from phasebench.plotting.phase_diagram import available_axes, diagram_legend, phase_diagram_axes
from phasebench.plotting.phase_parts import c_range
from phasebench.plotting.points import GEOMETRY, PointView, describe, protocol
from phasebench.plotting.style import new_figure

#: Configuration fields that do not make points different models (the unit being compared,
#: what else was measured alongside, and where it ran).
NOT_THE_MODEL = ("lr_unit", "per_layer", "smallest", "device", "c", "seed", "sgd_seed")


def unit_free_key(view: PointView) -> str:
    """Points with equal keys are the same model, data and protocol (up to depth and width)."""
    config = {k: v for k, v in view.config.items() if k not in NOT_THE_MODEL}
    model = dict(config["model"])
    model["options"] = {k: v for k, v in view.model_options.items() if k not in GEOMETRY}
    return json.dumps({**config, "model": model}, sort_keys=True, default=str)


def unit_groups(views: Sequence[PointView]) -> list[list[tuple[str, list[PointView]]]]:
    """For every model measured in two or more units: [(unit, its points), ...] by unit."""
    by_model: dict[str, dict[str, list[PointView]]] = {}
    for view in views:
        by_model.setdefault(unit_free_key(view), {}).setdefault(unit_of(view.config), []).append(
            view
        )
    order = list(UNIT_SYMBOLS)  # hessian (the paper's) first

    def rank(item: tuple[str, list[PointView]]) -> int:
        return order.index(item[0]) if item[0] in order else len(order)

    return [sorted(units.items(), key=rank) for units in by_model.values() if len(units) >= 2]


def units_figure(groups: Sequence[tuple[str, list[PointView]]], axis: str | None = None) -> Figure:
    """One phase-diagram panel per unit; ``axis`` (default: d/w where every unit has it, else
    the points' index)."""
    if axis is None:
        common = set.intersection(*(set(available_axes(views)) for _, views in groups))
        axis = next((a for a in ("d/w", "1/w") if a in common), "index")
    figure = new_figure(4.2 * len(groups) + 3.0, 5.4)
    axes = figure.subplots(1, len(groups), squeeze=False)[0]
    not_probed = False
    for ax, (unit, views) in zip(axes, groups, strict=True):
        not_probed |= phase_diagram_axes(ax, views, axis, c_range(views))
        ax.set_title(c_label(unit), fontsize=10)
    diagram_legend(figure, [view for _, views in groups for view in views], not_probed)
    first = {k: v for k, v in groups[0][1][0].config.items() if k != "lr_unit"}
    figure.suptitle(
        f"the same model in {len(groups)} learning-rate units\n"
        f"{describe(first, GEOMETRY, width=90)}\n{protocol(first)}",
        fontsize=10,
    )
    return figure
