"""A third party adds a kind of component and a command, installed for real (a .dist-info
with entry points) and run in a fresh process: what docs/plugins.md promises."""

from __future__ import annotations

import json
import textwrap

from support import install_fake_distribution, phasebench, subprocess_env

# One distribution, two plugins: one declares the kind "warmup" and a command that uses it,
# the other (think: somebody else's package) only registers a component of that kind.
KIND_PLUGIN = """
from phasebench import Option, hookimpl
from phasebench.kinds import Kind


@hookimpl
def register_kinds(register):
    register(Kind("warmup", "warmups", "register_warmups", "A learning-rate warmup."))


@hookimpl
def register_warmups(register):
    register(
        "linear",
        "warmup_kind.impl:linear",
        description="eta_t = eta t / steps",
        options=[Option("steps", 4, "steps to reach eta", ge=1)],
    )


@hookimpl
def register_commands(register):
    register("warm", "warmup_kind.cli:commands", description="print a warmup's eta_t")
"""

IMPL = """
def linear(step, eta, *, steps):
    return eta * min(1.0, (step + 1) / steps)


def constant(step, eta):
    return eta
"""

CLI = '''
import typer

from phasebench.errors import UsageError

commands = typer.Typer()


@commands.command("warm")
def warm(name: str = "linear", eta: float = 1.0, steps: int = 4) -> None:
    """Print eta_t of the warmup NAME for the first steps."""
    from phasebench.plugins import components

    found = components()
    if name not in found.registry("warmup"):
        raise UsageError(f"unknown warmup {name!r}; phasebench list warmup shows them")
    registration = found.get("warmup", name)
    options = {"steps": steps} if "steps" in registration.defaults else {}
    schedule = registration.load()
    values = [schedule(t, eta, **registration.options(options)) for t in range(steps)]
    typer.echo(" ".join(f"{v:.2f}" for v in values))
'''

OTHER = """
from phasebench import hookimpl


@hookimpl
def register_warmups(register):
    register("constant", "warmup_kind.impl:constant", description="no warmup at all")
"""


def _write_package(root):
    package = root / "warmup_kind"
    package.mkdir(parents=True)
    for name, source in {
        "__init__": KIND_PLUGIN,
        "impl": IMPL,
        "cli": CLI,
        "other": OTHER,
    }.items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))


def test_a_plugin_adds_a_kind_and_a_command_that_uses_it(tmp_path):
    site = tmp_path / "site"
    _write_package(site)
    install_fake_distribution(
        site,
        "warmup-kind",
        {"warmup-kind": "warmup_kind", "warmup-kind-other": "warmup_kind.other"},
    )
    env = subprocess_env(site)

    listed = phasebench("list", "warmups", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"linear", "constant"}
    assert rows["constant"]["plugin"] == "warmup-kind-other"
    assert rows["linear"]["kind"] == "warmup" and rows["linear"]["defaults"] == {"steps": 4}

    ran = phasebench("warm", "--eta", "2", "--steps", "4", env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["0.50", "1.00", "1.50", "2.00"]
    constant = phasebench("warm", "--name", "constant", "--steps", "2", env=env)
    assert constant.stdout.split() == ["1.00", "1.00"], constant.stderr
    unknown = phasebench("warm", "--name", "cosine", env=env)
    assert unknown.returncode == 2 and "unknown warmup 'cosine'" in unknown.stderr

    plugins = json.loads(phasebench("plugins", "--json", env=env).stdout)
    ours = {p["name"]: p["hooks"] for p in plugins["plugins"] if not p["builtin"]}
    assert ours == {
        "warmup-kind": ["register_commands", "register_kinds", "register_warmups"],
        "warmup-kind-other": ["register_warmups"],
    }
    assert plugins["failures"] == []
    assert "warm" in phasebench("--help", env=env).stdout


def test_a_kind_that_takes_a_core_name_is_refused_and_the_rest_works(tmp_path):
    site = tmp_path / "site"
    _write_package(site)
    init = site / "warmup_kind" / "__init__.py"
    init.write_text(
        init.read_text().replace(
            'Kind("warmup", "warmups", "register_warmups"',
            'Kind("model", "warmups", "register_warmups"',
        )
    )
    install_fake_distribution(site, "warmup-kind", {"warmup-kind": "warmup_kind"})
    env = subprocess_env(site)
    shown = json.loads(phasebench("plugins", "--json", env=env).stdout)
    [failure] = shown["failures"]
    assert failure["name"] == "warmup-kind" and "model is taken" in failure["error"]
    assert phasebench("list", "model", env=env).returncode == 0
