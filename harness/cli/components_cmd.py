"""``phasebench list`` and ``phasebench plugins``: what is installed. Never imports torch."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from phasebench import kinds
from phasebench.cli.loading import load_components
from phasebench.cli.markup import literal
from phasebench.errors import UsageError
from phasebench.plugins import Components
from phasebench.registry import Registration, unknown_name_message

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()


def _kind(components: Components, value: str) -> str:
    """Accept 'model' or 'models', 'loss' or 'losses' (a plugin's kinds included)."""
    try:
        return components.kind(value.lower()).name
    except KeyError:
        names = [kind.name for kind in components.kinds]
        raise UsageError(unknown_name_message("kind", value, names)) from None


@commands.command("list")
def list_components(
    kind: Annotated[
        str | None,
        typer.Argument(help=f"Only this kind: {', '.join(kinds.names())}.", show_default=False),
    ] = None,
    name: Annotated[
        str | None,
        typer.Argument(help="Only this component, with its options in full.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the registered components: name, description, options, plugin, version.
    `phasebench list model fcn` shows one component's options with their help."""
    components = load_components(warn=not as_json)
    chosen = [_kind(components, kind)] if kind else [k.name for k in components.kinds]
    rows = [reg for k in chosen for reg in components.registry(k)]
    if name is not None:
        rows = [components.get(chosen[0], name)]
    if as_json:
        typer.echo(json.dumps([reg.describe() for reg in rows], indent=2))
        return
    console = Console()
    if name is not None:
        console.print(_options_table(rows[0]))
        return
    table = Table(title="phasebench components", show_lines=False)
    for column in ("kind", "name", "description", "options (defaults)", "plugin", "version"):
        table.add_column(column, overflow="fold")
    for reg in rows:
        defaults = ", ".join(f"{k}={json.dumps(v)}" for k, v in reg.defaults.items())
        if reg.cpu_defaults:
            defaults += f"; {_cpu_line(reg)}" if defaults else _cpu_line(reg)
        cells = (reg.kind, reg.name, reg.description, defaults, reg.plugin, reg.version)
        table.add_row(*map(literal, cells))
    console.print(table)


def _options_table(reg: Registration) -> Table:
    """One component's options: flag, default, what it takes, help."""
    title = f"{reg.kind} {reg.name}: {reg.description} ({reg.plugin} {reg.version})".strip()
    table = Table(title=literal(title))
    for column in ("option", "default", "takes", "help"):
        table.add_column(column, overflow="fold")
    for option in reg.declared:
        flag = "--" + option.name.replace("_", "-")
        cells = (flag, json.dumps(option.default), option.expects(), option.help)
        table.add_row(*map(literal, cells))
    if reg.cpu_defaults:
        table.caption = literal(_cpu_line(reg))
    return table


def _cpu_line(reg: Registration) -> str:
    """``CPU defaults (--device cpu, where unset): --sharpness-examples 256 ...``."""
    shown = " ".join(
        f"--{name.removeprefix('model.').replace('_', '-')} {value}"
        for name, value in reg.cpu_defaults
    )
    return f"CPU defaults (on --device cpu, where unset): {shown}"


@commands.command("plugins")
def list_plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the loaded plugins, the hooks each implements, and any that failed to load."""
    components = load_components(warn=False)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "plugins": [
                        {
                            "name": p.name,
                            "distribution": p.distribution,
                            "version": p.version,
                            "hooks": list(p.hooks),
                            "builtin": p.builtin,
                        }
                        for p in components.plugins
                    ],
                    "failures": [
                        {"name": f.name, "distribution": f.distribution, "error": f.error}
                        for f in components.failures
                    ],
                },
                indent=2,
            )
        )
        return
    console = Console()
    table = Table(title="loaded plugins")
    for column in ("plugin", "distribution", "version", "hooks", "built-in"):
        table.add_column(column, overflow="fold")
    for p in components.plugins:
        cells = (p.name, p.distribution, p.version, ", ".join(p.hooks))
        table.add_row(*map(literal, cells), "yes" if p.builtin else "")
    console.print(table)
    if components.failures:
        failed = Table(title="plugins that failed to load", style="red")
        for column in ("plugin", "distribution", "error"):
            failed.add_column(column, overflow="fold")
        for f in components.failures:
            failed.add_row(*map(literal, (f.name, f.distribution, f.error)))
        console.print(failed)
