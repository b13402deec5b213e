"""The CLI through Typer's runner and through real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

from support import EXAMPLE_PLUGIN_SRC, install_fake_distribution, phasebench, subprocess_env
from typer.testing import CliRunner

from phasebench import __version__
from phasebench.cli.main import app

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"phasebench {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("list", "plugins"):
        assert command in result.output


def test_list_shows_every_builtin_kind_as_json():
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {row["kind"] for row in rows} >= {"loss"}
    mse = next(row for row in rows if row["name"] == "mse")
    assert mse["plugin"] == "builtin-losses" and mse["version"] == __version__


def test_list_accepts_singular_and_plural_kinds():
    singular = json.loads(runner.invoke(app, ["list", "loss", "--json"]).output)
    plural = json.loads(runner.invoke(app, ["list", "losses", "--json"]).output)
    assert singular == plural and {row["kind"] for row in singular} == {"loss"}


def test_an_unknown_kind_is_one_line_and_exit_code_2():
    result = subprocess.run(
        [sys.executable, "-m", "phasebench.cli.main", "list", "modle"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], (
        "the error must be one line"
    )
    assert "unknown kind 'modle'; did you mean 'model'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback():
    env = subprocess_env(PHASEBENCH_DEBUG="1")
    result = phasebench("list", "modle", env=env)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "UsageError" in result.stderr


def test_plugins_json_lists_hooks():
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    losses = next(p for p in data["plugins"] if p["name"] == "builtin-losses")
    assert losses["hooks"] == ["register_losses"] and losses["builtin"] is True
    assert data["failures"] == []


def test_installed_example_plugin_and_a_broken_plugin_through_real_entry_points(tmp_path):
    """Real entry-point discovery in a real process: a .dist-info is what `pip install` leaves."""
    site = tmp_path / "site"
    install_fake_distribution(
        site, "phasebench-example-plugin", {"phasebench-example-plugin": "phasebench_example"}
    )
    install_fake_distribution(site, "phasebench-broken", {"phasebench-broken": "no_such_module"})
    env = subprocess_env(site, EXAMPLE_PLUGIN_SRC)

    listed = phasebench("list", "model", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    gelu = next(row for row in rows if row["name"] == "gelu-mlp")
    assert gelu["distribution"] == "phasebench-example-plugin" and gelu["version"] == "0.1.0"

    table = phasebench("list", env=env)
    assert table.returncode == 0
    assert "gelu-mlp" in table.stdout and "orthogonal" in table.stdout
    assert "warning: plugin 'phasebench-broken' (phasebench-broken) failed" in table.stderr

    shown = phasebench("plugins", "--json", env=env)
    data = json.loads(shown.stdout)
    example = next(p for p in data["plugins"] if p["name"] == "phasebench-example-plugin")
    assert example["hooks"] == ["register_initializations", "register_models"]
    [failure] = data["failures"]
    assert failure["name"] == "phasebench-broken" and "ModuleNotFoundError" in failure["error"]

    strict = phasebench("list", env={**env, "PHASEBENCH_STRICT_PLUGINS": "1"})
    assert strict.returncode == 3
    assert "phasebench-broken" in strict.stderr and "Traceback" not in strict.stderr


def test_help_and_list_do_not_import_torch():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from phasebench.cli.main import app\n"
        "for args in (['--help'], ['list'], ['plugins']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plugin_text_with_rich_markup_is_printed_literally(tmp_path):
    """A description, default or error with brackets is text, not Rich markup ("[/]" used to
    crash the table, "[bold]" to vanish)."""
    site = tmp_path / "site"
    (site / "bracket_plugin.py").parent.mkdir(parents=True)
    (site / "bracket_plugin.py").write_text(
        "from phasebench import hookimpl\n"
        "@hookimpl\n"
        "def register_losses(register):\n"
        "    register('bracket-loss', 'bracket_plugin:make', description='mean [/] over "
        "[bold]classes[/bold]', defaults={'weights': [1, 2]})\n"
        "def make(weights=(1, 2)):\n"
        "    return None\n"
    )
    install_fake_distribution(site, "bracket-plugin", {"bracket-plugin": "bracket_plugin"})
    (site / "broken_bracket.py").write_text("raise RuntimeError('bad [/] config')\n")
    install_fake_distribution(site, "broken-bracket", {"broken-bracket": "broken_bracket"})
    env = subprocess_env(site, COLUMNS="400")  # wide enough that Rich folds no cell
    listed = phasebench("list", "loss", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "mean [/] over [bold]classes[/bold]" in listed.stdout
    assert "weights=[1, 2]" in listed.stdout
    shown = phasebench("plugins", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "RuntimeError: bad [/] config" in shown.stdout
