"""Shared fixtures: a clean plugin state per test, and ways to fake installed plugins."""

from __future__ import annotations

import os
import sys
import textwrap
from importlib import metadata

import pytest

from phasebench import plugins

if os.environ.get("PYTEST_XDIST_WORKER"):
    # ``make test`` runs one worker per core: each takes one core, so torch's own threads do
    # not oversubscribe the machine (tests that time things set one thread themselves)
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """The HVP backend choices go to a cache folder of this test session, never the user's
    (subprocesses inherit it)."""
    import os

    previous = os.environ.get("PHASEBENCH_CACHE")
    os.environ["PHASEBENCH_CACHE"] = str(tmp_path_factory.mktemp("phasebench-cache"))
    yield
    if previous is None:
        os.environ.pop("PHASEBENCH_CACHE", None)
    else:
        os.environ["PHASEBENCH_CACHE"] = previous


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch):
    """A module-level plugin manager breaks test isolation: reload per test."""
    for var in (
        "PHASEBENCH_DISABLE_PLUGINS",
        "PHASEBENCH_LOAD_PLUGINS",
        "PHASEBENCH_STRICT_PLUGINS",
        "PHASEBENCH_DEBUG",
    ):
        monkeypatch.delenv(var, raising=False)
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def add_entry_points(monkeypatch):
    """Add fake entry points of the ``phasebench`` group, the way pluggy's own tests do."""

    def add(*pairs: tuple[str, str]) -> None:
        real = list(metadata.entry_points(group=plugins.ENTRY_POINT_GROUP))
        fake = [
            metadata.EntryPoint(name, value, plugins.ENTRY_POINT_GROUP) for name, value in pairs
        ]
        monkeypatch.setattr(plugins, "_entry_points", lambda: real + fake)
        plugins.reset()

    return add


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """Write a module under tmp_path and make it importable; returns its name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        sys.modules.pop(name, None)
        return name

    return write
