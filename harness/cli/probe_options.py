"""The options ``run`` and ``sweep`` share, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PROBE = "probe"
COMPONENTS = "components"
OUTPUT = "output"

Model = Annotated[
    str, typer.Option(help="Model (phasebench list model).", rich_help_panel=COMPONENTS)
]
Dataset = Annotated[
    str, typer.Option(help="Dataset (phasebench list dataset).", rich_help_panel=COMPONENTS)
]
Init = Annotated[str, typer.Option(help="Initialization.", rich_help_panel=COMPONENTS)]
Loss = Annotated[str, typer.Option(help="Loss.", rich_help_panel=COMPONENTS)]
Optimizer = Annotated[str, typer.Option(help="Optimizer.", rich_help_panel=COMPONENTS)]
Estimator = Annotated[str, typer.Option(help="Sharpness estimator.", rich_help_panel=COMPONENTS)]
Opt = Annotated[
    list[str] | None,
    typer.Option(
        "--opt",
        help="FIELD.NAME=VALUE for an option two components share, e.g. model.width=256.",
        rich_help_panel=COMPONENTS,
        show_default=False,
    ),
]
Cs = Annotated[
    str | None,
    typer.Option(
        "--c",
        help="Explicit values of c, comma-separated (instead of the 2^x grid).",
        rich_help_panel=PROBE,
        show_default=False,
    ),
]
XMin = Annotated[float, typer.Option(help="Grid: smallest x, c = 2^x.", rich_help_panel=PROBE)]
XMax = Annotated[float, typer.Option(help="Grid: largest x tried.", rich_help_panel=PROBE)]
XStep = Annotated[float, typer.Option(help="Grid: step in x.", rich_help_panel=PROBE)]
SearchMode = Annotated[
    str,
    typer.Option(
        "--search", help="grid (the paper's scan) or bisect (adaptive).", rich_help_panel=PROBE
    ),
]
Tol = Annotated[
    float,
    typer.Option("--bisect-tol", help="Bisect: tolerance in x = log2 c.", rich_help_panel=PROBE),
]
Steps = Annotated[int, typer.Option(help="SGD steps per run.", rich_help_panel=PROBE)]
BatchSize = Annotated[int, typer.Option(help="SGD batch size.", rich_help_panel=PROBE)]
SharpExamples = Annotated[
    int, typer.Option(help="Size of the fixed sharpness batch.", rich_help_panel=PROBE)
]
LossExamples = Annotated[
    int, typer.Option(help="Size of the fixed batch L_t is measured on.", rich_help_panel=PROBE)
]
Seeds = Annotated[
    str,
    typer.Option(
        help="Initialization seeds: a count (3 = 0,1,2) or a list (0,5,7).", rich_help_panel=PROBE
    ),
]
SgdSeeds = Annotated[
    str, typer.Option(help="Batch-order seeds, same two forms.", rich_help_panel=PROBE)
]
SharpEps = Annotated[
    float,
    typer.Option(help="c_sharp: lambda_t/lambda0 must exceed 1 + eps.", rich_help_panel=PROBE),
]
Threshold = Annotated[
    float,
    typer.Option(
        help="A run diverged when its loss is non-finite or above this.", rich_help_panel=PROBE
    ),
]
Dtype = Annotated[str, typer.Option(help="float32 or float64.", rich_help_panel=PROBE)]
Device = Annotated[str, typer.Option(help="cpu or cuda.", rich_help_panel=PROBE)]
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Where the dataset files are (else PHASEBENCH_DATA, the cache, system locations).",
        rich_help_panel=PROBE,
        show_default=False,
    ),
]
Out = Annotated[
    Path | None,
    typer.Option(
        help="HDF5 file to write; an existing one is appended to.",
        rich_help_panel=OUTPUT,
        show_default=False,
    ),
]
Resume = Annotated[
    bool, typer.Option(help="Skip the runs already in --out.", rich_help_panel=OUTPUT)
]

COMPONENT_OPTIONS_HELP = (
    "Any option of a chosen component is accepted as --NAME VALUE: --depth 4 --width 256 "
    "--activation tanh --alpha 0.5 (see `phasebench list`)."
)
