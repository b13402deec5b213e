"""``phasebench data status`` and ``phasebench data fetch NAME``.

Dataset-specific behaviour is reached only through the registry: a dataset component may offer
``locate(data_dir=None) -> [(file name, path or None)]`` and
``fetch(data_dir=None, progress=True) -> [paths]`` (see ``register_datasets`` in hookspecs).
Datasets without them (synthetic ones) have no files. Never imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from phasebench.cli.loading import load_components
from phasebench.cli.markup import literal
from phasebench.errors import UsageError

data_app = typer.Typer(
    help="Where dataset files are found, and downloading them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
#: What the built-in commands plugin installs: the ``data`` group.
commands = typer.Typer()
commands.add_typer(data_app, name="data")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Look here first (else $PHASEBENCH_DATA); fetch downloads here instead of the cache.",
        show_default=False,
    ),
]


def _status_rows(name: str | None, data_dir: Path | None) -> list[dict[str, Any]]:
    registry = load_components().registry("dataset")
    registrations = [registry.get(name)] if name else list(registry)
    rows: list[dict[str, Any]] = []
    for reg in registrations:
        locate = getattr(reg.load(), "locate", None)
        if locate is None:
            rows.append({"dataset": reg.name, "file": None, "path": None, "found": True})
            continue
        for file_name, path in locate(data_dir=data_dir):
            rows.append(
                {
                    "dataset": reg.name,
                    "file": file_name,
                    "path": None if path is None else str(path),
                    "found": path is not None,
                }
            )
    return rows


@data_app.command("status")
def status(
    name: Annotated[
        str | None, typer.Argument(help="Only this dataset.", show_default=False)
    ] = None,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show, for every registered dataset, each file it needs and where it was found."""
    rows = _status_rows(name, data_dir)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(
        title="phasebench datasets",
        caption="search order: --data-dir or $PHASEBENCH_DATA, the user cache, system folders; "
        "`phasebench data fetch NAME` downloads what is missing",
    )
    for column in ("dataset", "file", "found at"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if row["file"] is None:
            where = "[dim]no files (generated in memory)[/dim]"
        elif row["found"]:
            where = literal(row["path"])
        else:
            where = "[red]missing[/red]"
        table.add_row(literal(row["dataset"]), literal(row["file"] or "-"), where)
    Console().print(table)


@data_app.command("fetch")
def fetch(
    name: Annotated[str, typer.Argument(help="The dataset, e.g. mnist, fashion-mnist, cifar10.")],
    data_dir: DataDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Download a dataset's missing files (verified by checksum) into the cache or --data-dir."""
    component = load_components().load("dataset", name)
    fetch_files = getattr(component, "fetch", None)
    if fetch_files is None:
        raise UsageError(f"dataset {name!r} has no files to fetch: it is generated in memory")
    for path in fetch_files(data_dir=data_dir, progress=not quiet):
        typer.echo(str(path))
