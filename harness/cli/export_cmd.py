"""``phasebench export FILE.h5``: one tidy table as CSV or Parquet, or the whole file as a
labelled netCDF dataset. pandas, pyarrow and xarray are imported only here, when asked for
(the ``pandas``, ``parquet`` and ``xarray`` extras). Never imports torch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phasebench.cli.file_options import SharpEpsOverride, check_sharp_eps

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()

#: format -> the file suffix it is written with
FORMATS = {"csv": ".csv", "parquet": ".parquet", "netcdf": ".nc"}
#: ``phasebench.results.tables.TABLES`` (not imported here: --help stays light)
TABLE_NAMES = ("runs", "steps", "constants", "points", "traces", "trace_steps")
TABLE_NAMES += ("run_densities", "trace_densities")


def _format_of(fmt: str | None, out: Path | None) -> str:
    from phasebench.errors import UsageError

    if fmt is None:
        by_suffix = {suffix: name for name, suffix in FORMATS.items()}
        return by_suffix.get(out.suffix.lower(), "csv") if out is not None else "csv"
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


@commands.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="A results file written by run or sweep.")],
    table: Annotated[
        str | None,
        typer.Option(
            help="runs, steps, constants, points, traces, trace_steps, run_densities or "
            "trace_densities (csv and parquet; default runs). netcdf writes every per-run and "
            "per-step value as one labelled dataset.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv, parquet or netcdf (default: from --out's suffix, else csv).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="The file to write (default: <stem>-<table>.<suffix> next to FILE).",
            show_default=False,
        ),
    ] = None,
    sharp_eps: SharpEpsOverride = None,
) -> None:
    """Export a results file for pandas, R, a spreadsheet or xarray: a tidy table (one row per
    run, per run and step, per scan and constant, per point and constant) as CSV or Parquet,
    or the labelled arrays (point, seed, sgd_seed, c, step) as netCDF. Prints the path."""
    from phasebench.errors import UsageError
    from phasebench.extras import require
    from phasebench.results import tables
    from phasebench.results.reader import load

    sharp_eps = check_sharp_eps(sharp_eps)
    fmt = _format_of(fmt, out)
    if table is not None and table not in TABLE_NAMES:
        raise UsageError(f"unknown --table {table!r}; use one of {', '.join(TABLE_NAMES)}")
    if fmt == "netcdf" and table is not None:
        raise UsageError(
            "--table is for csv and parquet; --format netcdf writes every table's values as "
            "one labelled dataset (drop --table)"
        )
    if fmt == "netcdf":
        require("xarray", "xarray", "--format netcdf")
        require("h5netcdf", "xarray", "--format netcdf")
    else:
        require("pandas", "pandas", f"--format {fmt}")
        if fmt == "parquet":
            require("pyarrow", "parquet", "--format parquet")
    name = "dataset" if fmt == "netcdf" else table or "runs"
    target = out or file.with_name(f"{file.stem}-{name}{FORMATS[fmt]}")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: directory {target.parent} does not exist")
    loaded = load(file)  # a missing, damaged or foreign file: one line, before anything is written
    if fmt == "netcdf":
        tables.to_xarray(loaded, sharp_eps=sharp_eps).to_netcdf(target, engine="h5netcdf")
    else:
        frame = tables.to_pandas(loaded, table or "runs", sharp_eps=sharp_eps)
        if fmt == "csv":
            frame.to_csv(target, index=False)
        else:
            frame.to_parquet(target, index=False)
    typer.echo(str(target))
