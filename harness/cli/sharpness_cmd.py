"""``phasebench sharpness`` (one freshly initialized model) and ``phasebench bench`` (every
estimator against the exact answer). torch is imported inside the commands only."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from phasebench.cli.loading import load_components
from phasebench.cli.markup import literal
from phasebench.errors import UsageError

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()

DEFAULT_BENCH_MODELS = ("uv", "fcn", "myrtle")
Options = Annotated[
    list[str] | None,
    typer.Option(help="KEY=VALUE (VALUE read as JSON, else a string); repeatable."),
]


def parse_options(pairs: list[str] | None, what: str) -> dict[str, Any]:
    """``["width=64", "name=x"]`` -> ``{"width": 64, "name": "x"}``."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} option {pair!r} is not KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def parse_spec(spec: str, what: str) -> tuple[str, dict[str, Any]]:
    """``"fcn:width=64,depth=3"`` -> ``("fcn", {"width": 64, "depth": 3})``."""
    name, _, rest = spec.partition(":")
    pairs = [p for p in rest.split(",") if p.strip()] if rest else []
    return name.strip(), parse_options(pairs, what)


def build_problem(
    components: Any,
    model: str,
    model_options: dict[str, Any],
    dataset: str,
    dataset_options: dict[str, Any],
    init: str,
    init_options: dict[str, Any],
    loss: str,
    examples: int,
    seed: int,
    data_dir: str | None,
) -> tuple[Any, Any, Any, Any]:
    """(model, loss, inputs, targets): the first ``examples`` training examples and a model
    initialized from ``torch.Generator().manual_seed(seed)``."""
    import torch

    if examples < 1:
        raise UsageError(f"--examples must be at least 1, got {examples}")
    dataset_reg = components.get("dataset", dataset)
    split = dataset_reg.load()("train", data_dir=data_dir, **dataset_reg.options(dataset_options))
    model_reg = components.get("model", model)
    net = model_reg.load()(split.input_shape, split.num_classes, **model_reg.options(model_options))
    init_reg = components.get("initialization", init)
    generator = torch.Generator().manual_seed(int(seed))
    net = init_reg.load()(net, generator, **init_reg.options(init_options))
    loss_fn = components.get("loss", loss).load()()
    inputs = split.inputs[:examples]
    targets = loss_fn.encode_targets(split.labels[:examples], split.num_classes)
    return net, loss_fn, inputs, targets


@commands.command("sharpness")
def sharpness_command(
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
    data_dir: Annotated[str | None, typer.Option(help="Where datasets are cached.")] = None,
    opt: Options = None,
    model_opt: Options = None,
    dataset_opt: Options = None,
    init_opt: Options = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Measure the sharpness of one freshly initialized model and print the result."""
    from phasebench.hessian.api import run_estimator
    from phasebench.hessian.operator import HessianOperator

    components = load_components(warn=not as_json)
    components.get("estimator", estimator)  # an unknown name fails before any work
    net, loss_fn, inputs, targets = build_problem(
        components,
        model,
        parse_options(model_opt, "model"),
        dataset,
        parse_options(dataset_opt, "dataset"),
        init,
        parse_options(init_opt, "init"),
        loss,
        examples,
        seed,
        data_dir,
    )
    operator = HessianOperator(
        net, loss_fn, inputs, targets, dtype=dtype, mode=mode, backend=backend, seed=seed
    )
    result = run_estimator(
        operator,
        estimator,
        k,
        seed=seed,
        options=parse_options(opt, "estimator"),
        components=components,
    )
    summary = {
        "model": model,
        "dataset": dataset,
        "init": init,
        "loss": loss,
        "examples": operator.examples,
        "parameters": operator.size,
        "dtype": dtype,
        "mode": mode,
        **result.summary(),
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    table = Table(title=literal(f"sharpness of {model} on {dataset} ({init}, {loss})"))
    table.add_column("quantity")
    table.add_column("value", overflow="fold")
    for key, value in summary.items():
        shown = ", ".join(f"{x:.6g}" for x in value) if isinstance(value, list) else str(value)
        table.add_row(key, literal(shown))
    Console().print(table)
    if not result.converged:
        typer.echo(
            "warning: the estimator did not converge; raise max_iter (--opt max_iter=N)", err=True
        )


def relative_errors(values: tuple[float, ...], reference: tuple[float, ...]) -> tuple[float, float]:
    """(|l1 - r1| / |r1|, max_i |li - ri| / |ri|) over the eigenvalues both have."""

    def rel(a: float, b: float) -> float:
        return abs(a - b) / abs(b) if b != 0 else abs(a - b)

    pairs = list(zip(values, reference, strict=False))
    top = rel(*pairs[0])
    worst = max(rel(a, b) for a, b in pairs)
    if len(values) < len(reference):
        worst = float("inf")
    return top, worst


#: Estimators that find eigenvalues of largest magnitude whatever their options say.
MAGNITUDE_ESTIMATORS = {"power"}


def _which(name: str, defaults: dict[str, Any], options: dict[str, Any]) -> str:
    if name in MAGNITUDE_ESTIMATORS:
        return "magnitude"
    return str(options.get("which", defaults.get("which", "largest")))


def _reference(components: Any, operator: Any, k: int, which: str) -> tuple[str, Any]:
    """Exact when it fits, else Lanczos to tol 1e-10."""
    from phasebench.hessian.api import run_estimator

    if "exact" in components.registry("estimator"):
        try:
            return "exact", run_estimator(
                operator, "exact", k, options={"which": which}, components=components
            )
        except UsageError:
            pass
    options = {"tol": 1e-10, "max_iter": min(operator.size, 400), "which": which}
    return "lanczos(tol=1e-10)", run_estimator(
        operator, "lanczos", k, options=options, components=components
    )


@commands.command("bench")
def bench_command(
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="Model spec NAME[:KEY=VALUE,...]; repeatable. Default: "
            f"those of {', '.join(DEFAULT_BENCH_MODELS)} that are registered."
        ),
    ] = None,
    estimator: Annotated[
        list[str] | None, typer.Option(help="Estimator name; repeatable. Default: all.")
    ] = None,
    dataset: Annotated[str, typer.Option(help="Dataset spec NAME[:KEY=VALUE,...].")] = "gaussian",
    init: Annotated[str, typer.Option(help="Initialization spec NAME[:KEY=VALUE,...].")] = "he",
    loss: Annotated[str, typer.Option(help="Registered loss name.")] = "mse",
    k: Annotated[int, typer.Option(help="How many top eigenvalues.")] = 3,
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float64",
    examples: Annotated[int, typer.Option(help="First N training examples.")] = 256,
    seed: Annotated[int, typer.Option(help="Initialization and estimator seed.")] = 0,
    data_dir: Annotated[str | None, typer.Option(help="Where datasets are cached.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="HDF5 file to write (default results/bench-<time>.h5).")
    ] = None,
) -> None:
    """Run every estimator on a set of models against the exact answer (or a tight Lanczos
    reference when the Hessian is too big) and print and save the table."""
    from phasebench.hessian.api import run_estimator
    from phasebench.hessian.operator import HessianOperator

    components = load_components()
    estimators = list(estimator or components.registry("estimator").names())
    for name in estimators:
        components.get("estimator", name)
    specs = list(model or [m for m in DEFAULT_BENCH_MODELS if m in components.registry("model")])
    if not specs:
        raise UsageError("no models to benchmark; pass --model NAME")
    dataset_name, dataset_options = parse_spec(dataset, "dataset")
    init_name, init_options = parse_spec(init, "init")
    rows: list[dict[str, Any]] = []
    for spec in specs:
        model_name, model_options = parse_spec(spec, "model")
        net, loss_fn, inputs, targets = build_problem(
            components,
            model_name,
            model_options,
            dataset_name,
            dataset_options,
            init_name,
            init_options,
            loss,
            examples,
            seed,
            data_dir,
        )
        operator = HessianOperator(net, loss_fn, inputs, targets, dtype=dtype, seed=seed)
        operator.backend  # noqa: B018  (calibrate outside every estimator's wall time)
        references: dict[str, tuple[str, Any]] = {}
        for name in estimators:
            reg = components.get("estimator", name)
            which = _which(name, dict(reg.defaults), {})
            if which not in references:
                references[which] = _reference(components, operator, k, which)
            ref_name, ref = references[which]
            try:
                result = run_estimator(operator, name, k, seed=seed, components=components)
            except UsageError as exc:  # e.g. exact refusing: a row that says so
                rows.append(
                    {
                        "model": spec,
                        "parameters": operator.size,
                        "estimator": name,
                        "skipped": str(exc),
                    }
                )
                continue
            top, topk = relative_errors(result.eigenvalues, ref.eigenvalues)
            rows.append(
                {
                    "model": spec,
                    "parameters": operator.size,
                    "estimator": name,
                    "reference": ref_name,
                    "which": which,
                    "hvps": result.hvps,
                    "wall_time": result.wall_time,
                    "rel_err_max": top,
                    "rel_err_topk": topk,
                    "converged": result.converged,
                    "backend": result.backend,
                    "eigenvalues": list(result.eigenvalues),
                    "reference_eigenvalues": list(ref.eigenvalues),
                }
            )
    _print_bench(rows, k)
    path = out or Path("results") / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.h5"
    write_bench(
        path,
        rows,
        {
            "dataset": dataset,
            "init": init,
            "loss": loss,
            "k": k,
            "dtype": dtype,
            "examples": examples,
            "seed": seed,
        },
    )
    typer.echo(f"wrote {path}")


def _print_bench(rows: list[dict[str, Any]], k: int) -> None:
    table = Table(title=f"sharpness estimators against the reference (top-{k})")
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


def write_bench(path: Path, rows: list[dict[str, Any]], config: dict[str, Any]) -> None:
    """One group per row (``<index>``) with the scalars as attributes and the eigenvalues as
    datasets; the run's settings as JSON in the root attribute ``config``."""
    import h5py
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as fh:
        fh.attrs["config"] = json.dumps(config)
        fh.attrs["kind"] = "phasebench-bench"
        for index, row in enumerate(rows):
            group = fh.create_group(f"{index:04d}")
            for key, value in row.items():
                if isinstance(value, list):
                    group.create_dataset(key, data=np.asarray(value, dtype=np.float64))
                else:
                    group.attrs[key] = value
