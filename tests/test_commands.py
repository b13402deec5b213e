"""register_commands: a plugin adds a CLI subcommand; a broken one leaves the rest working."""

from __future__ import annotations

from typer.testing import CliRunner

from phasebench import plugins
from phasebench.cli.main import build_app
from phasebench.testing import check_component

runner = CliRunner()

HELLO = """
from phasebench import hookimpl

@hookimpl
def register_commands(register):
    register("hello", "hello_cli:commands", description="say hello")
"""

HELLO_CLI = """
import typer

commands = typer.Typer()

@commands.command("hello")
def hello(name: str = "world") -> None:
    '''Say hello.'''
    typer.echo(f"hello {name}")
"""

BROKEN = """
from phasebench import hookimpl

@hookimpl
def register_commands(register):
    register("broken", "no_such_module_anywhere:commands", description="cannot load")
"""

TAKER = """
from phasebench import hookimpl

@hookimpl
def register_commands(register):
    register("run", "hello_cli:commands", description="takes a built-in name")
"""


def test_a_plugin_command_runs_like_a_builtin(add_entry_points, plugin_module):
    plugin_module("hello_plugin", HELLO)
    plugin_module("hello_cli", HELLO_CLI)
    add_entry_points(("hello", "hello_plugin"))
    app = build_app(plugins.components())
    result = runner.invoke(app, ["hello", "--name", "phase"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "hello phase"
    assert "hello" in runner.invoke(app, ["--help"]).output
    listed = runner.invoke(app, ["list", "command", "--json"]).output
    assert '"name": "hello"' in listed and '"plugin": "hello"' in listed


def test_a_broken_command_is_reported_and_the_rest_works(add_entry_points, plugin_module):
    plugin_module("broken_plugin", BROKEN)
    plugin_module("taker_plugin", TAKER)
    plugin_module("hello_cli", HELLO_CLI)
    add_entry_points(("broken", "broken_plugin"), ("taker", "taker_plugin"))
    components = plugins.components()
    app = build_app(components)
    failures = [f.line() for f in components.failures]
    assert any("no_such_module_anywhere" in line for line in failures), failures
    assert any("'run' is registered twice" in line for line in failures), failures
    assert runner.invoke(app, ["show", "--help"]).exit_code == 0
    shown = runner.invoke(app, ["plugins"])
    assert shown.exit_code == 0 and "no_such_module_anywhere" in shown.output
    assert runner.invoke(app, ["broken"]).exit_code == 2  # not installed: click's usage error


def test_every_builtin_command_conforms():
    found = plugins.components()
    for name in found.registry("command").names():
        assert check_component("command", name, found) == "passed", name
