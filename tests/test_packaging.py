"""Packaging: the bare install is checked in CI, and the README's way around a folder named
``phasebench`` in the current folder works."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import REPO, subprocess_env


def test_ci_checks_the_bare_install_with_torch_pinned_and_no_extra():
    ci = (REPO / ".ci" / "run").read_text()
    assert "make bare-check" in ci
    makefile = (REPO / "Makefile").read_text()
    assert 'bash .ci/bare-check "$(TORCH)"' in makefile and "TORCH ?= torch==" in makefile
    script = (REPO / ".ci" / "bare-check").read_text()
    assert 'pip" install -q "$TORCH" "$work/src"' in script  # the package itself, no [extra]
    for command in ("--help", "list", "run --c 1", "show"):
        assert f'"$bin/phasebench" {command}' in script


@pytest.mark.skipif(sys.version_info < (3, 11), reason="PYTHONSAFEPATH is Python 3.11+")
def test_a_folder_named_phasebench_is_not_imported_with_safe_path(tmp_path):
    """The README's troubleshooting note: with PYTHONSAFEPATH=1 a ``phasebench`` folder in
    the current folder (here a stand-in for a checkout) does not shadow the installed one."""
    assert "PYTHONSAFEPATH=1" in (REPO / "README.md").read_text()
    (tmp_path / "phasebench" / "plugins").mkdir(parents=True)
    (tmp_path / "phasebench" / "plugins" / "__init__.py").write_text("raise ImportError('x')\n")
    code = "import phasebench.plugins as p; print(p.ENTRY_POINT_GROUP)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=subprocess_env(PYTHONSAFEPATH="1"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "phasebench"
