"""``--config probe.toml``: a study's parameters from a TOML file, in the library's parameter
names (``phasebench.probe.parameters``: ``batch_size = 128``, ``[model_options]`` ``width =
64``, ``seeds = [0, 1]``). The command line overrides the file; an unknown key, a file that is
not TOML or cannot be read: one line, exit 2."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from phasebench.errors import ParameterError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="A TOML file of parameters (docs/api.md); the command line overrides it.",
        rich_help_panel="output",
        show_default=False,
    ),
]


def read_config(path: Path, allowed: Sequence[str], command: str) -> dict[str, Any]:
    """The parameters a configuration file sets, each key one of ``allowed``."""
    from phasebench.probe.parameters import check_known

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such configuration file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read configuration file {path} ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML ({exc}); fix the file") from None
    try:
        check_known(data, allowed, what="key")
    except ParameterError as exc:
        raise UsageError(f"{path} ({command} --config): {exc}") from None
    return data
