"""Colours, names and figure plumbing every phasebench figure shares.

Figures are built with the object-oriented API on an Agg canvas (never ``pyplot``), so plotting
needs no display, keeps no global figure state, and works in threads and worker processes.
"""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

DPI = 150

#: The phases in increasing c, with the colour of their shaded region.
PHASES = (
    ("loss decreases / sharpness reduction", "#cfe8cf"),
    ("loss catapult", "#fde9b8"),
    ("loss-sharpness catapult", "#f6c9a8"),
    ("divergence", "#e9b5b5"),
)
NOT_PROBED = ("not probed (above the grid)", "#ffffff")

#: The loss (and c_loss) and the sharpness (and c_sharp) are drawn in these colours everywhere.
LOSS_COLOR = "#1f5fbf"
SHARPNESS_COLOR = "#c2410c"
#: A diverged run's marker, in every figure.
DIVERGED_COLOR = "#d62728"
#: The dotted "ratio 1" line and the dashed reference lines at c = 2 and c = 4.
RATIO_ONE_COLOR = "0.35"
REFERENCE_COLOR = "0.25"
REFERENCE_LINE = (0, (4, 3))
#: Greys of the figure furniture: hatch edges of unprobed regions, legend patch edges, the
#: markers that explain the marker conventions.
HATCH_EDGE = "0.75"
PATCH_EDGE = "0.6"
NOTE_COLOR = "0.3"

#: How each critical constant is drawn: colour, marker and the symbol used in labels.
CONSTANT_STYLE = {
    "c_loss": (LOSS_COLOR, "o", r"$c_{loss}$"),
    "c_sharp": (SHARPNESS_COLOR, "s", r"$c_{sharp}$"),
    "c_barrier": ("#6d28d9", "D", r"$c_{barrier}$"),
    "c_max": ("#111111", "^", r"$c_{max}$"),
}

#: The regimes of a trace (``phasebench.analysis.regimes``), in the order a trajectory passes
#: them, with the colour of their shaded span and of their markers in the summary figure.
REGIMES = (
    ("early-transient", "#e5e7eb", "#6b7280"),
    ("saturation", "#dbeafe", "#2563eb"),
    ("progressive-sharpening", "#fde7c8", "#d97706"),
    ("edge-of-stability", "#f8d0d0", "#b91c1c"),
)
REGIME_SHADE = {name: shade for name, shade, _ in REGIMES}
REGIME_COLOR = {name: color for name, _, color in REGIMES}
#: The stability threshold (2 / eta_t, ...) drawn over a trace's sharpness.
THRESHOLD_COLOR = "#111111"
#: A trace's minibatch loss, drawn faintly under the loss on the fixed batch.
TRAIN_LOSS_COLOR = "#93b4e6"
#: A trace's per-layer sharpness (one thin curve per layer, coloured along this map from the
#: first layer to the last), its critical sharpness and its smallest eigenvalue.
LAYER_CMAP = "cividis"
CRITICAL_COLOR = "#6d28d9"
SMALLEST_COLOR = "#0f766e"

#: Reference learning-rate constants: 2 (the lazy / catapult boundary of wide nets) and 4
#: (the divergence of linear-like models under MSE).
REFERENCE_CS = (2.0, 4.0)
TRAJECTORY_CMAP = "viridis"


def new_figure(width: float, height: float) -> Figure:
    """A figure on an Agg canvas (savefig writes PNGs without any GUI backend)."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plain_log_axis(ax: Axes, axis: str = "y") -> None:
    """Label a log10 axis with plain numbers (0.2, 0.5, 1, 2, 5, ...; only powers of ten when
    it spans more than three decades). Call after the limits are set."""
    low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
    decades = math.log10(max(high, 1e-300)) - math.log10(max(low, 1e-300))
    subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0)
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())
