"""Figures of phasebench results files (matplotlib on an Agg canvas; never imports torch).

``plot_file(path, out_dir)`` writes the PNGs of a file and returns their paths;
``figures(loaded)`` yields them as (file name, ``Figure``) without saving, for inspection, and
``plan(loaded)`` lists (file name, builder) without drawing anything. A trace (``phasebench
trace``) is drawn by ``trace_figure`` and the regimes of many by ``trace_summary_figure``.
"""

from phasebench.plotting.files import figures, plan, plot_file
from phasebench.plotting.phase_diagram import phase_diagram_figure
from phasebench.plotting.point_phases import point_phase_figure
from phasebench.plotting.points import PointView, point_views
from phasebench.plotting.trace_summary import trace_summary_figure
from phasebench.plotting.trace_trajectories import trace_figure
from phasebench.plotting.trajectories import trajectory_figure

__all__ = [
    "PointView",
    "figures",
    "phase_diagram_figure",
    "plan",
    "plot_file",
    "point_phase_figure",
    "point_views",
    "trace_figure",
    "trace_summary_figure",
    "trajectory_figure",
]
