"""The conformance check of a command: it installs into a ``phasebench`` application and
shows its help without error."""

from __future__ import annotations

from typing import Any

from phasebench.testing.common import ConformanceError


def check_command(component: Any, name: str, label: str) -> str:
    """``component`` (a loaded ``typer.Typer``) holds a command or group ``name`` that
    installs into a fresh application and answers ``--help`` with exit code 0."""
    from typer.testing import CliRunner

    from phasebench.cli.app import new_app
    from phasebench.cli.main import install_command
    from phasebench.registry import Registration

    app = new_app()
    app.callback()(lambda: None)
    try:
        install_command(app, Registration("command", name, "", component))
    except Exception as exc:
        raise ConformanceError(f"{label}: cannot be installed: {exc}") from exc
    result = CliRunner().invoke(app, [name, "--help"])
    if result.exit_code != 0:
        raise ConformanceError(
            f"{label}: `phasebench {name} --help` exited {result.exit_code}: {result.output[-300:]}"
        )
    return "passed"
