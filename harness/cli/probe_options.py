"""The options ``run`` and ``sweep`` share, declared once, and how their values become a study.

``@probe_command`` adds them to a command's signature (Typer reads ``__signature__``) and hands
the command one ``ProbeArgs`` instead of two dozen parameters. The component options come from
the kind table (``phasebench.kinds``: field, flag, default, help), the protocol's defaults from
``ProbeConfig``, ``Grid`` and ``Search``; the library's errors name parameters, and ``FLAGS``
maps them to the flags a user typed.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import MISSING, fields, make_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phasebench import kinds
from phasebench.cli.config_file import ConfigFile
from phasebench.config import ProbeConfig
from phasebench.probe.grid import Grid, Search

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.plugins import Components

PROBE = "probe"
COMPONENTS = "components"
OUTPUT = "output"
MEASUREMENTS = "measurements"

#: What ``run`` and ``sweep`` accept besides their own options: component options.
EXTRA_OPTIONS = {"allow_extra_args": True, "ignore_unknown_options": True}

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
BatchSize = Annotated[
    str,
    typer.Option(
        help="SGD batch size, or full: every step over all training examples (full-batch GD).",
        rich_help_panel=PROBE,
    ),
]
SharpExamples = Annotated[
    int, typer.Option(help="Size of the fixed sharpness batch.", rich_help_panel=PROBE)
]
SharpBatch = Annotated[
    str,
    typer.Option(
        "--sharpness-batch",
        help="What lambda_t (t >= 1) is measured on: fixed (the fixed sharpness batch, "
        "lambda0's) or next (the next training batch, batch-size examples: the authors').",
        rich_help_panel=PROBE,
    ),
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
TopK = Annotated[
    int,
    typer.Option(
        "--top-k",
        help="Top eigenvalues per step (k > 1 stores sharpness_top_k (T+1, k)).",
        rich_help_panel=MEASUREMENTS,
    ),
]
Critical = Annotated[
    bool,
    typer.Option(
        help="Also measure the critical sharpness 2 / eta_c per step (a line search).",
        rich_help_panel=MEASUREMENTS,
    ),
]
DensitySteps = Annotated[
    str | None,
    typer.Option(
        help="Steps after which to store the SLQ spectral density, e.g. 0,10 (0 = init).",
        rich_help_panel=MEASUREMENTS,
        show_default=False,
    ),
]
DensityProbes = Annotated[
    int, typer.Option(help="SLQ probe vectors per density.", rich_help_panel=MEASUREMENTS)
]
DensityLanczos = Annotated[
    int, typer.Option(help="SLQ Lanczos steps per probe.", rich_help_panel=MEASUREMENTS)
]
Dtype = Annotated[str, typer.Option(help="float32 or float64.", rich_help_panel=PROBE)]
LrUnit = Annotated[
    str,
    typer.Option(
        help="The curvature eta = c / lambda is measured in: hessian (the paper's), ggn, ntk, "
        "critical, or preconditioned (adaptive optimizers: lambda of P^-1 H at theta_0).",
        rich_help_panel=PROBE,
    ),
]
PerLayer = Annotated[
    bool,
    typer.Option(
        help="Also store each layer's sharpness (top eigenvalue of its Hessian block), every step.",
        rich_help_panel=PROBE,
    ),
]
Smallest = Annotated[
    bool,
    typer.Option(
        help="Also store the smallest Hessian eigenvalue, every step.", rich_help_panel=PROBE
    ),
]
Device = Annotated[str, typer.Option(help="cpu or cuda.", rich_help_panel=PROBE)]
Engine = Annotated[
    str,
    typer.Option(
        help="sequential (one c after another) or batched (a grid's c values trained together "
        "through torch.func; for GPUs, see docs/engines.md). The same runs either way.",
        rich_help_panel=PROBE,
    ),
]
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
LoggerNames = Annotated[
    list[str] | None,
    typer.Option(
        "--logger",
        help="An experiment tracker told of every run as it is written: mlflow, tensorboard, "
        "jsonl or a plugin's (repeatable; phasebench list logger). Its options: --OPTION VALUE "
        "or --opt logger.NAME.OPTION=VALUE.",
        rich_help_panel=OUTPUT,
        show_default=False,
    ),
]
#: Where ``study_parameters`` leaves the chosen loggers and their options (``ctx.meta``).
LOGGERS = "phasebench.loggers"

COMPONENT_OPTIONS_HELP = (
    "Any option of a chosen component is accepted as --NAME VALUE: --depth 4 --width 256 "
    "--activation tanh --alpha 0.5 (see `phasebench list`)."
)


def component_options_help() -> str:
    """The epilog of ``run`` and ``sweep --help``: the rule, then every option of the default
    components as their plugins declare it (``phasebench list KIND NAME`` for the others)."""
    from phasebench.cli.component_options import options_help
    from phasebench.plugins import components

    found = components()
    lines = [COMPONENT_OPTIONS_HELP, "", "Options of the default components:", ""]
    for kind in kinds.probe_kinds():
        if kind.default in found.registry(kind.name):
            declared = options_help(found.get(kind.name, kind.default), sep="; ")
            if declared:
                lines.append(f"- {kind.flag} {kind.default}: {declared}")
    return "\n".join(lines)


def _defaults(cls: type) -> dict[str, Any]:
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def _shared() -> list[tuple[str, Any, Any]]:
    """(parameter, type with its option, default) in the order --help lists them."""
    config, grid, search = _defaults(ProbeConfig), _defaults(Grid), _defaults(Search)
    components = [
        (
            kind.field,
            Annotated[str, typer.Option(help=kind.help, rich_help_panel=COMPONENTS)],
            kind.default,
        )
        for kind in kinds.probe_kinds()
    ]
    return [
        *components,
        ("opt", Opt, None),
        ("c", Cs, None),
        ("x_min", XMin, grid["x_min"]),
        ("x_max", XMax, grid["x_max"]),
        ("x_step", XStep, grid["x_step"]),
        ("search", SearchMode, search["mode"]),
        ("bisect_tol", BisectTol, search["tol"]),
        ("steps", Steps, config["steps"]),
        ("batch_size", BatchSize, str(config["batch_size"])),
        ("sharpness_examples", SharpExamples, config["sharpness_examples"]),
        ("sharpness_batch", SharpBatch, config["sharpness_batch"]),
        ("loss_examples", LossExamples, config["loss_examples"]),
        ("seeds", Seeds, "1"),
        ("sgd_seeds", SgdSeeds, "1"),
        ("sharp_eps", SharpEps, search["sharp_eps"]),
        ("divergence_threshold", Threshold, config["divergence_threshold"]),
        ("top_k", TopK, config["top_k"]),
        ("critical", Critical, config["critical"]),
        ("density_steps", DensitySteps, None),
        ("density_probes", DensityProbes, config["density_probes"]),
        ("density_lanczos", DensityLanczos, config["density_lanczos"]),
        ("dtype", Dtype, config["dtype"]),
        ("lr_unit", LrUnit, config["lr_unit"]),
        ("per_layer", PerLayer, config["per_layer"]),
        ("smallest", Smallest, config["smallest"]),
        ("device", Device, config["device"]),
        ("engine", Engine, "sequential"),
        ("data_dir", DataDir, None),
        ("out", Out, None),
        ("resume", Resume, False),
        ("config", ConfigFile, None),
        ("logger", LoggerNames, None),
    ]


SHARED: list[tuple[str, Any, Any]] = _shared()
_COMPONENT_FIELDS = tuple(kind.field for kind in kinds.probe_kinds())
#: The ProbeConfig fields given on the command line as they are (c is the grid's, seeds are
#: lists): the protocol's numbers and methods.
PROTOCOL = tuple(
    name
    for name, _, _ in SHARED
    if name in _defaults(ProbeConfig) and name not in _COMPONENT_FIELDS and name != "c"
)

#: A library parameter -> the flag that sets it (an error naming ``x_step`` says ``--x-step``).
FLAGS: dict[str, str] = {
    **{name: "--" + name.replace("_", "-") for name, _, _ in SHARED},
    "tol": "--bisect-tol",
    "seed": "--seeds",
    "sgd_seed": "--sgd-seeds",
    "full_batch": "--batch-size full",
    # a trace's (phasebench.cli.trace_options)
    "every": "--every",
    "top_k": "--top-k",
    "train_examples": "--train-examples",
    "flush_seconds": "--flush-seconds",
}


def in_flags(message: str, parameters: Sequence[str]) -> str:
    """``message`` with each parameter it names spelled as its flag."""
    for name in sorted(parameters, key=len, reverse=True):
        flag = FLAGS.get(name)
        if flag is not None:
            message = re.sub(rf"(?<![\w./-]){re.escape(name)}(?![\w./-])", flag, message)
    return message


@contextmanager
def flag_names() -> Iterator[None]:
    """Re-raise the library's ``ParameterError`` in the words of the command line."""
    from phasebench.errors import ParameterError, UsageError

    try:
        yield
    except ParameterError as exc:
        raise UsageError(in_flags(str(exc), exc.parameters)) from None


class _ProbeArgs:
    """The shared options as typed (``study_parameters`` makes them a study's parameters)."""

    @property
    def data_path(self) -> str | None:
        return None if self.data_dir is None else str(self.data_dir)


ProbeArgs = make_dataclass(
    "ProbeArgs",
    [(name, Any) for name, _, _ in SHARED],
    bases=(_ProbeArgs,),
    frozen=True,
)
ProbeArgs.__module__ = __name__


#: The shared options whose value is not a study parameter as it is.
_NOT_PARAMETERS = ("opt", "config", "logger")


def _parameter(probe: Any, name: str) -> Any:
    """A shared option's value as the library parameter of the same name."""
    from phasebench.cli.values import parse_floats, parse_ints, parse_seeds

    value = getattr(probe, name)
    if name == "c":
        return None if value is None else list(parse_floats(value, "--c"))
    if name in ("seeds", "sgd_seeds"):
        return parse_seeds(value, FLAGS[name])
    if name == "data_dir":
        return None if value is None else str(value)
    if name == "density_steps":
        return () if value is None else parse_ints(value, FLAGS[name])
    return value


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the command line (or the environment) set option ``name``."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def study_parameters(
    ctx: typer.Context, probe: Any, file_keys: Sequence[str], command: str
) -> tuple[Components, dict[str, Any], dict[str, Any]]:
    """What ``run`` and ``sweep`` share: the registries, and the study's parameters
    (``phasebench.probe.parameters``): the defaults, under a ``--config`` file's, under what the
    command line gave (component options too: ``--width 64`` over the file's
    ``[model_options]``). Also returns the file's keys, for a command's own options."""
    from phasebench.cli.component_options import component_options
    from phasebench.cli.config_file import read_config
    from phasebench.cli.loading import load_components
    from phasebench.probe.parameters import defaults

    allowed = (*file_keys, CONFIG_LOGGERS)
    file = read_config(probe.config, allowed, command) if probe.config else {}
    params = defaults()
    params.update({key: value for key, value in file.items() if key in params})
    for name, _, _ in SHARED:
        if name not in _NOT_PARAMETERS and (name not in file or given(ctx, name)):
            params[name] = _parameter(probe, name)
    _batch_size(params)
    components = load_components()
    names = {field: params[field] for field in _COMPONENT_FIELDS if params[field] is not None}
    from_file = _file_loggers(file.get(CONFIG_LOGGERS), probe.config)
    chosen = dict.fromkeys([*from_file, *(probe.logger or ())])
    loggers = {f"logger.{name}": name for name in chosen}
    typed = component_options(components, {**names, **loggers}, ctx.args, probe.opt or ())
    ctx.meta[LOGGERS] = {
        name: {**from_file.get(name, {}), **typed.pop(role)} for role, name in loggers.items()
    }
    for field, options in typed.items():
        params[f"{field}_options"] = {**(params[f"{field}_options"] or {}), **options}
    return components, params, file


def apply_cpu_defaults(
    ctx: typer.Context, file: dict[str, Any], components: Components, params: dict[str, Any]
) -> None:
    """Put the chosen model's CPU defaults (``phasebench.probe.parameters.cpu_defaults``) into
    ``params`` where neither the command line nor the ``--config`` file set a value, and say so
    in one line on stderr. Call it once the axes are in ``params``."""
    from phasebench.probe.parameters import cpu_defaults, with_cpu_defaults

    named = {name for name, _, _ in SHARED if given(ctx, name)} | set(file)
    with flag_names():
        applied = cpu_defaults(components, params, named)
    if not applied:
        return
    params.update(with_cpu_defaults(params, applied))
    shown = " ".join(_as_flag(name, value) for name, value in applied.items())
    typer.echo(
        f"{params['model']}: using its CPU defaults {shown} (set any flag to override)", err=True
    )


def _as_flag(name: str, value: Any) -> str:
    """``--sharpness-examples 256``, ``--width 8`` (model.width); ``--batch-size full`` for
    full_batch; a switch alone."""
    name = name.removeprefix("model.")
    if name == "full_batch":
        return FLAGS[name] if value else ""
    flag = FLAGS.get(name, "--" + name.replace("_", "-"))
    if isinstance(value, bool):
        return flag if value else "--no-" + flag[2:]
    return f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}"


#: The key of a ``--config`` file that chooses loggers: a list of names, or a table of
#: name -> options (``[loggers.mlflow]`` ``tracking_uri = "..."``); ``--logger`` adds to it.
CONFIG_LOGGERS = "loggers"


def _file_loggers(value: Any, path: Path | None) -> dict[str, dict[str, Any]]:
    """A configuration file's ``loggers`` as name -> options; anything else: one line."""
    from phasebench.errors import ParameterError, UsageError
    from phasebench.probe.loggers import chosen

    try:
        return chosen(value)
    except ParameterError as exc:
        raise UsageError(f"{path}: {exc}") from None


def open_loggers(ctx: typer.Context, components: Components, out: Path):
    """The ``--logger`` choices ``study_parameters`` found, made for the study writing ``out`` (None
    when none was asked for); a missing extra is one line, before any work. A logger that
    fails later is one warning line on stderr."""
    chosen = ctx.meta.get(LOGGERS) or {}
    if not chosen:
        return None
    from phasebench.probe.loggers import build

    return build(
        components, chosen, out, report=lambda line: typer.echo(f"warning: {line}", err=True)
    )


def _batch_size(params: dict[str, Any]) -> None:
    """``--batch-size full``: full-batch GD (``full_batch``), batch_size left at its default,
    which it then does not use; a number otherwise."""
    from phasebench.cli.values import parse_batch_size
    from phasebench.probe.parameters import defaults

    size = parse_batch_size(str(params["batch_size"]))
    if size is None:
        params["full_batch"] = True
        params["batch_size"] = defaults()["batch_size"]
    else:
        params["batch_size"] = size


def probe_command(
    command: Callable[..., None] | None = None, *, without: Sequence[str] = ()
) -> Callable[..., Any]:
    """Give ``command(ctx, probe, **own)`` the shared options as keyword parameters; those
    named in ``without`` are not offered (``trace`` has no grid of c) and keep their defaults.
    ``@probe_command`` or ``@probe_command(without=(...))``."""
    if command is None:
        return functools.partial(probe_command, without=without)
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "probe"]
    offered = [(name, kind, default) for name, kind, default in SHARED if name not in without]
    fixed = {name: default for name, _, default in SHARED if name in without}
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
        for name, kind, default in offered
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        given = {name: kwargs.pop(name) for name, _, _ in offered}
        probe = ProbeArgs(**fixed, **given)
        return command(*args, probe=probe, **kwargs)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            *(p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in own[:1]),
            *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own[1:]),
            *shared,
        ]
    )
    return wrapper
