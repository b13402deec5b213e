"""``phasebench sharpness`` (one freshly initialized model) and ``phasebench bench`` (every
estimator against a reference): the flags, the tables and the exit codes. What they compute is
``phasebench.hessian.bench``'s; the file ``bench`` writes is ``phasebench.results.bench_file``'s.
torch is imported inside the commands only.

Component options are given as ``run`` takes them: ``--width 64`` or ``--opt model.width=64``.
The older forms (``--model-opt KEY=JSON``, ``--opt KEY=JSON`` for the estimator,
``--model fcn:width=64``) still work for one release and say so on stderr.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from phasebench import kinds
from phasebench.cli.component_options import kind_of
from phasebench.cli.loading import load_components
from phasebench.cli.markup import literal
from phasebench.errors import UsageError

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()

DEFAULT_BENCH_MODELS = ("uv", "fcn", "myrtle")
#: Unknown ``--name value`` pairs reach the command as component options.
EXTRA_OPTIONS = {"allow_extra_args": True, "ignore_unknown_options": True}
COMPONENT_HELP = (
    "Any option of a chosen component is accepted as --NAME VALUE (--width 64 --tol 1e-8) or "
    "--opt FIELD.NAME=VALUE (--opt model.width=64); see `phasebench list`."
)
BENCH_HELP = (
    "Component options as in `run`: --NAME VALUE or --opt FIELD.NAME=VALUE. A model option "
    "goes to every --model, and each must declare it; bench models that need different "
    "options in separate runs. Estimators run with their defaults."
)
Qualified = Annotated[
    list[str] | None,
    typer.Option(
        "--opt", help="FIELD.NAME=VALUE, e.g. model.width=64 or estimator.tol=1e-8; repeatable."
    ),
]
BenchQualified = Annotated[
    list[str] | None,
    typer.Option(
        "--opt", help="FIELD.NAME=VALUE, e.g. model.width=64 or dataset.n=40; repeatable."
    ),
]
OperatorName = Annotated[
    str,
    typer.Option(
        "--operator",
        help="The curvature: hessian, ggn (Gauss-Newton), ntk (J^T J / N, the NTK's spectrum) "
        "or preconditioned (P^-1/2 H P^-1/2 with P of an adaptive --optimizer).",
    ),
]
OptimizerName = Annotated[
    str | None,
    typer.Option(
        "--optimizer",
        help="With --operator preconditioned: the adaptive optimizer whose P is used, primed "
        "at initialization from one gradient as `run --lr-unit preconditioned` primes it "
        "(adam; its options as in run: --gi true, --opt optimizer.eps=1e-6).",
        show_default=False,
    ),
]
#: The fix a missing or non-adaptive ``--optimizer`` is told.
ASK_OPTIMIZER = "--optimizer adam"
Block = Annotated[
    str | None,
    typer.Option(
        help="Only this layer's (or parameter's) diagonal block, e.g. 0 or 0.weight.",
        show_default=False,
    ),
]
PerLayer = Annotated[
    bool,
    typer.Option(
        "--per-layer",
        help="Also the top eigenvalue of every layer's (parameter block's) diagonal block.",
    ),
]
Smallest = Annotated[
    bool, typer.Option("--smallest", help="Also the smallest eigenvalue (negative curvature).")
]
Critical = Annotated[
    bool,
    typer.Option(
        "--critical",
        help="Also the critical sharpness 2 / eta_c along the negative gradient (SGD's first "
        "update): a line search of at most 10 forward passes.",
    ),
]
Deprecated = Annotated[
    list[str] | None,
    typer.Option(help="Deprecated: KEY=VALUE (VALUE read as JSON); use --NAME VALUE."),
]


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, Any]:
    """The old form: ``["width=64", "name=x"]`` -> ``{"width": 64, "name": "x"}``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} option {pair!r} is not KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def parse_spec(spec: str, what: str) -> tuple[str, dict[str, Any]]:
    """The old form: ``"fcn:width=64,depth=3"`` -> ``("fcn", {"width": 64, "depth": 3})``."""
    name, _, rest = spec.partition(":")
    pairs = [p for p in rest.split(",") if p.strip()] if rest else []
    return name.strip(), parse_pairs(pairs, what)


class Options:
    """Component options from the command line, the old forms folded in with a note each."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.notes: list[str] = []
        self.given: dict[str, dict[str, Any]] = {}

    def deprecated(self, old: str, new: str) -> None:
        note = f"note: {old} is deprecated and goes in the next release; use {new}"
        if note not in self.notes:
            self.notes.append(note)

    def add(self, field: str, options: Mapping[str, Any]) -> None:
        self.given.setdefault(field, {}).update(options)

    def split_opt(self, items: Sequence[str]) -> list[str]:
        """``--opt`` items: FIELD.NAME=VALUE ones are returned; a bare KEY=VALUE is the old
        estimator form (folded in, noted); anything else is an error."""
        qualified = []
        for item in items:
            key, sep, _ = item.partition("=")
            if not sep or not key.strip():
                raise UsageError(
                    f"--opt {item!r} is not KEY=VALUE; write --opt FIELD.NAME=VALUE, e.g. "
                    "--opt estimator.tol=1e-8"
                )
            if "." in key:
                qualified.append(item)
            else:
                self.add("estimator", parse_pairs([item], "estimator"))
                self.deprecated(f"--opt {key}=VALUE", f"--{key.replace('_', '-')} VALUE")
        return qualified

    def route(
        self,
        components: Any,
        names: Mapping[str, str],
        extra: Sequence[str],
        qualified: Sequence[str],
        unused: Sequence[str] = (),
    ) -> dict[str, dict[str, Any]]:
        """Every role's options as given: the old forms, then ``--name value`` and ``--opt``
        (which win); an option of a role in ``unused`` (chosen, but run at its defaults) is
        an error, and every option is checked by its declaration before any work."""
        from phasebench.cli.component_options import component_options

        hidden = [o for role in unused for o in components.get(kind_of(role), names[role]).defaults]
        routed = component_options(components, names, extra, qualified, hidden)
        out = {role: dict(self.given.get(role, {})) for role in names}
        for role, options in routed.items():
            if options and role in unused:
                flags = ", ".join("--" + name.replace("_", "-") for name in options)
                raise UsageError(f"{self.command} takes no {role} options ({flags})")
            out[role].update(options)
        for role in names:  # checked (and converted) by each option's declaration
            if role not in unused:
                checked = components.get(kind_of(role), names[role]).options(out[role])
                out[role] = {name: checked[name] for name in out[role]}
        return out

    def say_notes(self) -> None:
        for note in self.notes:
            typer.echo(note, err=True)


def check_optimizer(components: Any, operator_name: str, optimizer: str | None) -> None:
    """``--optimizer`` goes with ``--operator preconditioned``, which needs an adaptive one
    (its state defines P); anything else is one line, before any work."""
    from phasebench.hessian.api import adaptive_optimizer
    from phasebench.hessian.curvature import check_operator

    check_operator(operator_name)
    if operator_name == "preconditioned":
        adaptive_optimizer(optimizer, components, ask=ASK_OPTIMIZER)
    elif optimizer is not None:
        raise UsageError(
            f"--optimizer defines P of --operator preconditioned only, not of {operator_name}; "
            "drop --optimizer or pass --operator preconditioned"
        )


def primed(
    components: Any, subject: Any, optimizer: str | None, options: Mapping[str, Any], dtype: str
) -> tuple[Any, dict[str, Any]]:
    """(the optimizer whose state defines P, primed at theta_0 on the subject's batch as the
    probe's ``lr_unit`` preconditioned primes it, and what defines P: ``optimizer`` and
    ``optimizer_options``, every option it received); (None, {}) without an optimizer. The
    model is cast to ``dtype`` first, so P is of the precision H is measured in."""
    if optimizer is None:
        return None, {}
    from phasebench.hessian.api import primed_optimizer
    from phasebench.hessian.operator import resolve_dtype

    subject.model.to(dtype=resolve_dtype(dtype))
    made = primed_optimizer(
        subject.model,
        subject.loss,
        subject.inputs,
        subject.targets,
        optimizer,
        options,
        components=components,
        ask=ASK_OPTIMIZER,
    )
    received = components.get("optimizer", optimizer).options(options)
    return made, {"optimizer": optimizer, "optimizer_options": received}


#: ``bench`` and ``sharpness`` refuse an exact Hessian that would take longer than this.
DEFAULT_MAX_MINUTES = 10.0
MaxMinutes = Annotated[
    float,
    typer.Option(
        help="Refuse an exact Hessian (n products and eigh) estimated to take longer than this "
        "on this machine."
    ),
]


def measured_beside(
    wanted: tuple[bool, bool, bool],
    subject: Any,
    which: str,
    operator: Any,
    top: float,
    estimator: str,
    *,
    seed: int,
    options: Mapping[str, Any],
    components: Any,
    **operator_options: Any,
) -> dict[str, Any]:
    """What ``--per-layer``, ``--smallest`` and ``--critical`` (``wanted``, in that order) add
    to the summary, by name; a value that did not converge is None (never a number)."""
    from phasebench.hessian.beside_top import layer_values, smallest_value
    from phasebench.hessian.critical import critical_sharpness

    def number(value: float) -> float | None:
        return value if math.isfinite(value) else None

    per_layer, smallest, critical = wanted
    out: dict[str, Any] = {}
    common = {"seed": seed, "options": options, "components": components}
    if per_layer:
        layers, products = layer_values(
            which,
            subject.model,
            subject.loss,
            subject.inputs,
            subject.targets,
            estimator,
            **common,
            **operator_options,
        )
        out["layers"] = {name: number(value) for name, value in layers.items()}
        out["layer_hvps"] = products
    if smallest:
        value, products = smallest_value(operator, top, estimator, **common)
        out["smallest"], out["smallest_hvps"] = number(value), products
    if critical:
        found = critical_sharpness(
            subject.model,
            subject.loss,
            subject.inputs,
            subject.targets,
            dtype=operator_options.get("dtype"),
            mode=operator_options.get("mode", "eval"),
        )
        out["critical_sharpness"] = number(found.value) if found.converged else None
        out["critical_passes"] = found.forward_passes
    return out


def check_max_minutes(value: float) -> None:
    if not value > 0:
        raise UsageError(f"--max-minutes must be a positive number, got {value}")


def check_exact_time(operator: Any, estimator: str, components: Any, max_minutes: float) -> None:
    """An exact estimator that would take over ``max_minutes`` here: one line, exit 2."""
    from phasebench.hessian.api import estimator_traits
    from phasebench.hessian.timing import estimator_seconds, product_seconds

    if not estimator_traits(estimator, components).exact:
        return
    per_product = product_seconds(operator)
    seconds, products = estimator_seconds(
        estimator,
        operator.size,
        1,
        per_product,
        components,
        device=getattr(operator, "device", None),
    )
    if seconds > max_minutes * 60:
        raise UsageError(
            f"{estimator} would take about {seconds / 60:.1f} min on this machine now "
            f"({products:,} products at {per_product * 1e3:.3g} ms, then eigh), over "
            f"--max-minutes {max_minutes:g}; pass --max-minutes {seconds / 60 * 1.5:.0f} or use "
            "--estimator lanczos"
        )


def check_examples(examples: int) -> None:
    if examples < 1:
        raise UsageError(f"--examples must be at least 1, got {examples}")


@commands.command("sharpness", context_settings=EXTRA_OPTIONS, epilog=COMPONENT_HELP)
def sharpness_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="Registered model name.")],
    dataset: Annotated[str, typer.Option(help="Registered dataset name.")],
    init: Annotated[str, typer.Option(help="Registered initialization name.")] = "he",
    loss: Annotated[str, typer.Option(help="Registered loss name.")] = "mse",
    estimator: Annotated[str, typer.Option(help="Registered estimator name.")] = "lanczos",
    k: Annotated[int, typer.Option(help="How many top eigenvalues.")] = 1,
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float32",
    examples: Annotated[int, typer.Option(help="First N training examples.")] = 2048,
    seed: Annotated[int, typer.Option(help="Initialization and estimator seed.")] = 0,
    mode: Annotated[str, typer.Option(help="eval (default) or train semantics.")] = "eval",
    backend: Annotated[str, typer.Option(help="auto, graph, rev-rev or fwd-rev.")] = "auto",
    operator_name: OperatorName = "hessian",
    optimizer: OptimizerName = None,
    block: Block = None,
    per_layer: PerLayer = False,
    smallest: Smallest = False,
    critical: Critical = False,
    data_dir: Annotated[str | None, typer.Option(help="Where datasets are cached.")] = None,
    opt: Qualified = None,
    model_opt: Deprecated = None,
    dataset_opt: Deprecated = None,
    init_opt: Deprecated = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    max_minutes: MaxMinutes = DEFAULT_MAX_MINUTES,
) -> None:
    """Measure the sharpness of one freshly initialized model and print the result."""
    from phasebench.hessian.api import estimator_traits, run_estimator
    from phasebench.hessian.bench import initial_model
    from phasebench.hessian.curvature import build_operator

    components = load_components(warn=not as_json)
    check_optimizer(components, operator_name, optimizer)
    names = {"model": model, "dataset": dataset, "init": init, "loss": loss}
    names["estimator"] = estimator
    if optimizer is not None:
        names["optimizer"] = optimizer
    for field, name in names.items():  # unknown names first: the most common typo
        components.get(kinds.of_field(field).name, name)
    check_examples(examples)
    check_max_minutes(max_minutes)
    if per_layer and block is not None:
        raise UsageError("--per-layer measures every block; drop --block (or --per-layer)")
    given = Options("sharpness")
    for field, pairs in (("model", model_opt), ("dataset", dataset_opt), ("init", init_opt)):
        if pairs:
            given.add(field, parse_pairs(pairs, field))
            given.deprecated(f"--{field}-opt KEY=VALUE", "--KEY VALUE")
    qualified = given.split_opt(opt or [])
    options = given.route(components, names, ctx.args, qualified)
    given.say_notes()
    subject = initial_model(components, names, options, examples, seed, data_dir)
    made, defined_by = primed(components, subject, optimizer, options.get("optimizer", {}), dtype)
    operator = build_operator(
        operator_name,
        subject.model,
        subject.loss,
        subject.inputs,
        subject.targets,
        dtype=dtype,
        optimizer=made,
        mode=mode,
        backend=backend,
        seed=seed,
        block=block,
    )
    check_exact_time(operator, estimator, components, max_minutes)
    result = run_estimator(
        operator, estimator, k, seed=seed, options=options["estimator"], components=components
    )
    besides = measured_beside(
        (per_layer, smallest, critical),
        subject,
        operator_name,
        operator,
        result.lambda_max,
        estimator,
        seed=seed,
        options=options["estimator"],
        components=components,
        dtype=dtype,
        optimizer=made,
        mode=mode,
        backend=backend,
    )
    summary = {
        "model": model,
        "dataset": dataset,
        "init": init,
        "loss": loss,
        "operator": operator_name,
        **defined_by,
        **({"block": block} if block is not None else {}),
        "examples": operator.examples,
        "parameters": operator.size,
        "dtype": dtype,
        "mode": mode,
        **result.summary(),
        **besides,
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    table = Table(title=literal(f"sharpness of {model} on {dataset} ({init}, {loss})"))
    table.add_column("quantity")
    table.add_column("value", overflow="fold")
    for key, value in summary.items():
        if key == "layers":  # one row per block
            for name, top in value.items():
                table.add_row(literal(f"layer {name}"), "nan" if top is None else f"{top:.6g}")
            continue
        if isinstance(value, list):
            shown = ", ".join(f"{x:.6g}" for x in value)
        else:
            shown = json.dumps(value) if isinstance(value, dict) else str(value)
        table.add_row(key, literal(shown))
    Console().print(table)
    if not result.converged:
        budget = estimator_traits(estimator, components).budget
        hint = f"raise --{budget.replace('_', '-')}" if budget else "try estimator lanczos"
        typer.echo(f"warning: the estimator did not converge; {hint}", err=True)


@commands.command("bench", context_settings=EXTRA_OPTIONS, epilog=BENCH_HELP)
def bench_command(
    ctx: typer.Context,
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="Registered model name; repeatable. Default: "
            f"those of {', '.join(DEFAULT_BENCH_MODELS)} that are registered. "
            "(Deprecated: NAME:KEY=VALUE,...)"
        ),
    ] = None,
    estimator: Annotated[
        list[str] | None, typer.Option(help="Estimator name; repeatable. Default: all.")
    ] = None,
    dataset: Annotated[
        str, typer.Option(help="Registered dataset name. (Deprecated: NAME:KEY=VALUE,...)")
    ] = "gaussian",
    init: Annotated[
        str, typer.Option(help="Registered initialization name. (Deprecated: NAME:KEY=VALUE,...)")
    ] = "he",
    loss: Annotated[str, typer.Option(help="Registered loss name.")] = "mse",
    k: Annotated[int, typer.Option(help="How many top eigenvalues.")] = 3,
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float64",
    examples: Annotated[int, typer.Option(help="First N training examples.")] = 256,
    seed: Annotated[int, typer.Option(help="Initialization and estimator seed.")] = 0,
    data_dir: Annotated[str | None, typer.Option(help="Where datasets are cached.")] = None,
    opt: BenchQualified = None,
    out: Annotated[
        Path | None, typer.Option(help="HDF5 file to write (default results/bench-DATE-TIME.h5).")
    ] = None,
    operator_name: OperatorName = "hessian",
    optimizer: OptimizerName = None,
    max_minutes: MaxMinutes = DEFAULT_MAX_MINUTES,
) -> None:
    """Run every estimator on a set of models against the exact answer (or a tight Lanczos
    reference when the Hessian is too big) and print and save the table."""
    from phasebench.hessian.bench import bench_rows, component_label, initial_model
    from phasebench.hessian.curvature import build_operator
    from phasebench.results.bench_file import write_bench

    components = load_components()
    check_optimizer(components, operator_name, optimizer)
    estimators = list(estimator or components.registry("estimator").names())
    for name in estimators:
        components.get("estimator", name)
    given = Options("bench")
    specs = list(model or [m for m in DEFAULT_BENCH_MODELS if m in components.registry("model")])
    if not specs:
        raise UsageError("no models to benchmark; pass --model NAME")
    subjects = {}
    for field, spec in (("dataset", dataset), ("init", init)):
        name, old = parse_spec(spec, field)
        if old or ":" in spec:
            given.add(field, old)
            given.deprecated(f"--{field} NAME:KEY=VALUE", "--KEY VALUE")
        subjects[field] = name
    check_examples(examples)
    qualified = given.split_opt(opt or [])
    if given.given.get("estimator"):
        raise UsageError(
            "bench runs every estimator with its defaults; it takes no --opt KEY=VALUE"
        )
    plans = []
    for spec in specs:
        name, old = parse_spec(spec, "model")
        own = Options("bench")
        own.given = {field: dict(v) for field, v in given.given.items()}
        if old or ":" in spec:
            own.add("model", old)
            given.deprecated("--model NAME:KEY=VALUE", "--model NAME --KEY VALUE")
        names = {"model": name, **subjects, "loss": loss, "estimator": estimators[0]}
        if optimizer is not None:
            names["optimizer"] = optimizer
        components.get("model", name)
        options = own.route(components, names, ctx.args, qualified, unused=("estimator",))
        plans.append((component_label(name, options["model"]), names, options))
    given.say_notes()
    check_max_minutes(max_minutes)
    rows: list[dict[str, Any]] = []
    defined_by: dict[str, Any] = {}
    for label, names, options in plans:
        subject = initial_model(components, names, options, examples, seed, data_dir)
        opts = options.get("optimizer", {})
        made, defined_by = primed(components, subject, optimizer, opts, dtype)
        operator = build_operator(
            operator_name,
            subject.model,
            subject.loss,
            subject.inputs,
            subject.targets,
            dtype=dtype,
            optimizer=made,
            seed=seed,
        )
        rows.extend(
            bench_rows(
                components,
                operator,
                label,
                estimators,
                k,
                seed,
                max_seconds=max_minutes * 60,
                say=lambda line: typer.echo(f"bench: {line}", err=True),
            )
        )
    if rows and all("skipped" in row for row in rows):
        raise UsageError(
            f"bench: every estimator was refused ({rows[0]['skipped']}); pass a larger "
            "--max-minutes, a smaller model or --examples, or another --estimator"
        )
    _print_bench(rows, k, defined_by)
    path = out or Path("results") / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.h5"
    write_bench(
        path,
        rows,
        {
            "dataset": dataset,
            "init": init,
            "loss": loss,
            "k": k,
            "operator": operator_name,
            **defined_by,
            "dtype": dtype,
            "examples": examples,
            "seed": seed,
        },
    )
    typer.echo(f"wrote {path}")


def _print_bench(rows: list[dict[str, Any]], k: int, defined_by: Mapping[str, Any]) -> None:
    title = f"sharpness estimators against the reference (top-{k})"
    if defined_by:
        from phasebench.hessian.bench import component_label

        shown = component_label(defined_by["optimizer"], defined_by["optimizer_options"])
        title += f" of P^-1/2 H P^-1/2, P of {shown}"
    table = Table(title=literal(title))
    for column in (
        "model",
        "params",
        "estimator",
        "HVPs",
        "wall time (s)",
        "rel. err lambda_max",
        f"rel. err top-{k}",
        "converged",
        "reference",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        if "skipped" in row:
            table.add_row(
                literal(row["model"]),
                str(row["parameters"]),
                literal(row["estimator"]),
                "-",
                "-",
                "-",
                "-",
                "-",
                literal(f"refused: {row['skipped']}"),
            )
            continue
        table.add_row(
            literal(row["model"]),
            str(row["parameters"]),
            literal(row["estimator"]),
            str(row["hvps"]),
            f"{row['wall_time']:.3f}",
            f"{row['rel_err_max']:.2e}",
            f"{row['rel_err_topk']:.2e}",
            "yes" if row["converged"] else "NO",
            literal(row["reference"]),
        )
    Console().print(table)
