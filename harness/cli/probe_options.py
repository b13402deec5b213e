"""The options ``run`` and ``sweep`` share, declared once.

``@probe_command`` adds them to a command's signature (Typer reads ``__signature__``) and hands
the command one ``ProbeArgs`` instead of two dozen parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.probe.scan import Search

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
BisectTol = Annotated[
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


#: (parameter, type with its option, default) in the order --help lists them.
SHARED: list[tuple[str, Any, Any]] = [
    ("model", Model, "fcn"),
    ("dataset", Dataset, "fashion-mnist-subset"),
    ("init", Init, "he"),
    ("loss", Loss, "mse"),
    ("optimizer", Optimizer, "sgd"),
    ("estimator", Estimator, "lanczos"),
    ("opt", Opt, None),
    ("c", Cs, None),
    ("x_min", XMin, 0.0),
    ("x_max", XMax, 6.0),
    ("x_step", XStep, 0.1),
    ("search", SearchMode, "grid"),
    ("bisect_tol", BisectTol, 0.05),
    ("steps", Steps, 10),
    ("batch_size", BatchSize, 512),
    ("sharpness_examples", SharpExamples, 2048),
    ("loss_examples", LossExamples, 2048),
    ("seeds", Seeds, "1"),
    ("sgd_seeds", SgdSeeds, "1"),
    ("sharp_eps", SharpEps, 0.0),
    ("divergence_threshold", Threshold, 1e5),
    ("dtype", Dtype, "float32"),
    ("device", Device, "cpu"),
    ("data_dir", DataDir, None),
    ("out", Out, None),
    ("resume", Resume, False),
]


@dataclass(frozen=True)
class ProbeArgs:
    """The shared options as typed (validated later, against the registries)."""

    model: str
    dataset: str
    init: str
    loss: str
    optimizer: str
    estimator: str
    opt: list[str] | None
    c: str | None
    x_min: float
    x_max: float
    x_step: float
    search: str
    bisect_tol: float
    steps: int
    batch_size: int
    sharpness_examples: int
    loss_examples: int
    seeds: str
    sgd_seeds: str
    sharp_eps: float
    divergence_threshold: float
    dtype: str
    device: str
    data_dir: Path | None
    out: Path | None
    resume: bool

    def names(self) -> dict[str, str]:
        """Component names by ProbeConfig field."""
        return {
            "model": self.model,
            "dataset": self.dataset,
            "init": self.init,
            "loss": self.loss,
            "optimizer": self.optimizer,
            "estimator": self.estimator,
        }

    def protocol(self) -> dict[str, Any]:
        """The ProbeConfig fields given on the command line."""
        return {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "sharpness_examples": self.sharpness_examples,
            "loss_examples": self.loss_examples,
            "dtype": self.dtype,
            "device": self.device,
            "divergence_threshold": self.divergence_threshold,
        }

    def search_plan(self) -> Search:
        from phasebench.probe.grid import Grid, parse_floats
        from phasebench.probe.scan import Search

        values = parse_floats(self.c, "--c") if self.c else ()
        grid = Grid(values, self.x_min, self.x_max, self.x_step)
        return Search(self.search, grid, tol=self.bisect_tol, sharp_eps=self.sharp_eps)

    @property
    def data_path(self) -> str | None:
        return None if self.data_dir is None else str(self.data_dir)


assert [f.name for f in fields(ProbeArgs)] == [name for name, _, _ in SHARED]


def probe_command(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command(ctx, probe, **own)`` the shared options as keyword parameters."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "probe"]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
        for name, kind, default in SHARED
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        probe = ProbeArgs(**{name: kwargs.pop(name) for name, _, _ in SHARED})
        return command(*args, probe=probe, **kwargs)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            *(p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in own[:1]),
            *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own[1:]),
            *shared,
        ]
    )
    return wrapper
