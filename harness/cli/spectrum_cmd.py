"""``phasebench spectrum``: the Hessian's spectral density (stochastic Lanczos quadrature) of one
freshly initialized model, with the trace estimate, stored as a ``SpectrumRecord`` under
``/spectra`` of a results file that ``phasebench plot`` draws. The model, data and options are
given as ``phasebench sharpness`` takes them. torch is imported inside the command only."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from phasebench import kinds
from phasebench.cli.loading import load_components
from phasebench.cli.markup import literal
from phasebench.cli.sharpness_cmd import COMPONENT_HELP, EXTRA_OPTIONS, Options, check_examples
from phasebench.errors import UsageError

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()


@commands.command("spectrum", context_settings=EXTRA_OPTIONS, epilog=COMPONENT_HELP)
def spectrum_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="Registered model name.")],
    dataset: Annotated[str, typer.Option(help="Registered dataset name.")],
    init: Annotated[str, typer.Option(help="Registered initialization name.")] = "he",
    loss: Annotated[str, typer.Option(help="Registered loss name.")] = "mse",
    probes: Annotated[int, typer.Option(help="SLQ probe vectors.")] = 5,
    lanczos_steps: Annotated[int, typer.Option(help="Lanczos steps per probe.")] = 50,
    distribution: Annotated[str, typer.Option(help="Probes: rademacher or gaussian.")] = (
        "rademacher"
    ),
    trace_products: Annotated[
        int, typer.Option(help="Products for a Hutch++ trace estimate (0: none).")
    ] = 0,
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float32",
    examples: Annotated[int, typer.Option(help="First N training examples.")] = 2048,
    seed: Annotated[int, typer.Option(help="Initialization and probe seed.")] = 0,
    data_dir: Annotated[str | None, typer.Option(help="Where datasets are cached.")] = None,
    opt: Annotated[
        list[str] | None, typer.Option("--opt", help="FIELD.NAME=VALUE, e.g. model.width=64.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Results file to write or append to (default results/spectrum-*.h5)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Estimate the Hessian's spectral density at initialization by stochastic Lanczos
    quadrature (PROBES x LANCZOS_STEPS products), print the top eigenvalue and the trace, and
    store the quadrature for `phasebench plot`."""
    from phasebench.hessian.vectors import PROBES
    from phasebench.probe.spectrum import initial_spectrum
    from phasebench.results.writer import ResultsWriter

    components = load_components(warn=not as_json)
    names = {"model": model, "dataset": dataset, "init": init, "loss": loss}
    for field, name in names.items():
        components.get(kinds.of_field(field).name, name)
    check_examples(examples)
    for flag, value in (("--probes", probes), ("--lanczos-steps", lanczos_steps)):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}")
    if trace_products and trace_products < 3:
        raise UsageError(f"--trace-products must be 0 or at least 3, got {trace_products}")
    if distribution not in PROBES:
        raise UsageError(f"unknown --distribution {distribution!r}; use {' or '.join(PROBES)}")
    given = Options("spectrum")
    options = given.route(components, names, ctx.args, given.split_opt(opt or []))
    path = out or Path("results") / f"spectrum-{time.strftime('%Y%m%d-%H%M%S')}.h5"
    if out is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    writer = ResultsWriter(path)  # a file that cannot be written: one line, before any work
    record = initial_spectrum(
        components,
        names,
        options,
        examples,
        seed,
        probes=probes,
        steps=lanczos_steps,
        distribution=distribution,
        dtype=dtype,
        trace_products=trace_products,
        data_dir=data_dir,
    )
    writer.write_spectrum(record)
    summary = {
        "spectrum_id": record.spectrum_id,
        "parameters": record.parameters,
        "probes": record.probes,
        "lanczos_steps": record.lanczos_steps,
        "hvps": record.hvps,
        "top_eigenvalue": record.top_eigenvalue,
        "trace": record.trace,
        "trace_error": record.trace_error,
        "hutchpp_trace": record.hutchpp_trace,
        "hutchpp_error": record.hutchpp_error,
        "seconds": record.seconds,
        "out": str(path),
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=literal(f"spectral density of {model} on {dataset} ({init}, {loss})"))
    table.add_column("quantity")
    table.add_column("value", overflow="fold")
    for key, value in summary.items():
        table.add_row(key, literal(f"{value:.6g}" if isinstance(value, float) else str(value)))
    Console().print(table)
