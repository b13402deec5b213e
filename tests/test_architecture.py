"""Architecture rules, checked: the core never imports a built-in plugin; every hook is tested
and documented; the installed import names are namespaced."""

from __future__ import annotations

import ast
import functools
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


def test_every_package_of_the_tree_is_in_the_wheel():
    """pyproject lists the packages by hand (harness/ -> phasebench, plugins/ ->
    phasebench_builtins): a new subpackage left out installs in editable mode and then is
    missing from `pip install phasebench`."""
    text = (REPO / "pyproject.toml").read_text()
    listed = set(re.findall(r'^\s+"(phasebench[\w.]*)",$', text.split("packages = [")[1], re.M))
    found = {
        ".".join([root, *init.parent.relative_to(REPO / folder).parts])
        for folder, root in (("harness", "phasebench"), ("plugins", "phasebench_builtins"))
        for init in (REPO / folder).rglob("__init__.py")
    }
    assert found == listed


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


# -- every third-party import is a declared dependency --------------------------------------
FIRST_PARTY = {"phasebench", "phasebench_builtins"}


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_normalized(re.match(r"[A-Za-z0-9._-]+", r).group(0)) for r in requirements}


def _declared() -> tuple[set[str], set[str]]:
    """(the [project] dependencies, those of every optional extra) as normalized names."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for reqs in project.get("optional-dependencies", {}).values() for r in reqs]
    return _requirement_names(project["dependencies"]), _requirement_names(extras)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def third_party_imports(tree: ast.AST) -> dict[str, bool]:
    """Top-level name of each absolute, non-stdlib, non-first-party import -> whether one of
    its imports runs when the module is imported (outside every function). Imports under
    ``if TYPE_CHECKING:`` never run and are left out."""
    found: dict[str, bool] = {}

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, in_function)
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                found[top] = found.get(top, False) or not in_function
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


@functools.cache
def _import_names_to_distributions() -> dict[str, list[str]]:
    from importlib import metadata

    return dict(metadata.packages_distributions())


def _distributions_of(import_name: str) -> set[str]:
    dists = _import_names_to_distributions().get(import_name) or [import_name]
    return {_normalized(d) for d in dists}


def test_the_dependency_check_sees_lazy_and_type_checking_imports():
    tree = ast.parse(
        "import numpy\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n"
        "def f():\n    import dask.config\n    from click import echo\n"
        "from . import sibling\nfrom phasebench import kinds\nimport os\n"
    )
    assert third_party_imports(tree) == {"numpy": True, "dask": False, "click": False}


PACKAGE_SOURCES = sorted([*(REPO / "harness").rglob("*.py"), *(REPO / "plugins").rglob("*.py")])


@pytest.mark.parametrize("path", PACKAGE_SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_third_party_import_is_declared(path):
    """What a module imports when it loads is a [project] dependency (a bare ``pip install
    phasebench`` has it); what it imports inside a function is one, or in an extra (the code
    then says which extra to install)."""
    required, optional = _declared()
    for name, at_load in third_party_imports(ast.parse(path.read_text())).items():
        dists = _distributions_of(name)
        allowed = required if at_load else required | optional
        where = "[project] dependencies" if at_load else "dependencies or an extra"
        assert dists & allowed, f"{path.name} imports {name!r}, not in pyproject's {where}"
