"""Architecture rules, checked: the core never imports a built-in plugin; every hook is tested
and documented; the installed import names are namespaced."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

from phasebench import hookspecs
from phasebench.registry import KINDS


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _strings(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


@pytest.mark.parametrize("path", sorted((REPO / "harness").rglob("*.py")), ids=str)
def test_core_never_imports_builtin_plugins(path):
    imported = _imports(path)
    assert not any(name.split(".")[0] in {"phasebench_builtins", "plugins"} for name in imported)
    # nor through a string handed to importlib
    assert not any(s.startswith("phasebench_builtins") for s in _strings(path))


def test_import_linter_contract_holds():
    lint = Path(sys.executable).parent / "lint-imports"
    if not lint.exists():
        pytest.skip("import-linter not installed")
    result = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_builtins_are_registered_through_entry_points_only():
    text = (REPO / "pyproject.toml").read_text()
    declared = set(re.findall(r'^builtin-\S+ = "(phasebench_builtins\.\w+)"', text, re.M))
    packages = {
        f"phasebench_builtins.{p.name}"
        for p in (REPO / "plugins").iterdir()
        if (p / "__init__.py").exists()
    }
    assert declared == packages


def test_installed_names_are_namespaced(tmp_path):
    """Outside the checkout, only the namespaced names import (no bare harness or plugins)."""
    code = (
        "import importlib.util as u, pathlib, phasebench, phasebench_builtins\n"
        "assert pathlib.Path(phasebench.__file__).parent.name == 'harness'\n"
        "assert pathlib.Path(phasebench_builtins.__file__).parent.name == 'plugins'\n"
        "assert u.find_spec('harness') is None and u.find_spec('plugins') is None\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)


#: Every hook the plugin manager knows (the spec module), not a second list.
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("register_"))


def test_every_hook_spec_is_a_kind_and_every_kind_has_a_spec():
    """A spec left out of the kind table would be accepted and never called (register_kinds,
    the one hook that is not a kind's, declares a plugin's own kinds)."""
    assert HOOKS == sorted([*KINDS.values(), "register_kinds"])


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    docs = (REPO / "docs" / "plugins.md").read_text()
    assert f"`{hook}(register)`" in docs, f"{hook} missing from docs/plugins.md"
    assert getattr(hookspecs, hook).__doc__


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    """datasette's rule: a hook nobody tests is a hook nobody can rely on."""
    tests = [p for p in (REPO / "tests").glob("test_*.py") if p.name != "test_architecture.py"]
    assert any(hook in p.read_text() for p in tests), f"no test mentions {hook}"
