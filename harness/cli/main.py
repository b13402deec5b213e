"""Entry point of the ``phasebench`` command. Importing it must not import torch.

The application is built once per process: the root callback, ``list`` and ``plugins`` (which
always work, so a broken plugin can be found), then every command a plugin registered through
``register_commands``, the built-in ones included. A command that cannot be installed is
recorded as a failure of its plugin, and the rest of the CLI works.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from phasebench import __version__
from phasebench.cli import components_cmd
from phasebench.cli.app import debug_enabled, error_line, new_app
from phasebench.cli.loading import load_components
from phasebench.errors import PhasebenchError, PluginError
from phasebench.plugins import Components, PluginFailure
from phasebench.registry import Registration


def _version(value: bool) -> None:
    if value:
        typer.echo(f"phasebench {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """phasebench: phase diagrams of early training you can trust."""


def install_command(app: typer.Typer, registration: Registration) -> None:
    """Add the command (or group) named like ``registration`` from the Typer it points at."""
    source = registration.load()
    if not isinstance(source, typer.Typer):
        raise PluginError(
            f"command {registration.name!r} points at a {type(source).__name__}, not a typer.Typer"
        )
    found = [c for c in source.registered_commands if _command_name(c) == registration.name]
    found += [g for g in source.registered_groups if g.name == registration.name]
    if not found:
        raise PluginError(
            f"command {registration.name!r}: {registration.target!r} holds no command or group "
            f"named {registration.name!r}"
        )
    taken = {_command_name(c) for c in app.registered_commands}
    taken |= {g.name for g in app.registered_groups}
    if registration.name in taken:
        raise PluginError(f"command {registration.name!r} exists already; choose another name")
    for info in found:
        target = app.registered_groups if isinstance(info, typer.models.TyperInfo) else None
        (target if target is not None else app.registered_commands).append(info)


def _command_name(info: Any) -> str:
    return info.name or info.callback.__name__.replace("_", "-")


def build_app(components: Components | None = None) -> typer.Typer:
    """The ``phasebench`` application with every registered command installed."""
    components = components if components is not None else load_components(warn=False)
    app = new_app()
    app.callback()(_root)
    app.registered_commands += components_cmd.commands.registered_commands
    for registration in components.registry("command"):
        try:
            install_command(app, registration)
        except Exception as exc:  # a broken command must not take the CLI down
            detail = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
            components.failures.append(
                PluginFailure(registration.plugin, registration.distribution, detail)
            )
    return app


_app: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """``phasebench.cli.main.app``: the application, built on first use."""
    global _app
    if name == "app":
        if _app is None:
            _app = build_app()
        return _app
    raise AttributeError(name)


def main() -> None:
    try:
        app = build_app()
    except PhasebenchError as exc:  # strict plugin loading: one line, like any command's error
        if debug_enabled():
            raise
        error_line(str(exc))
        sys.exit(exc.exit_code)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
