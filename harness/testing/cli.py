"""``python -m phasebench.testing [PLUGIN ...]``: check installed plugins, print a report per
plugin and one on the installed plugins loaded together (as every command loads them: a name
clash between two plugins shows there), exit 0 when all pass, 1 on a failure, 2 on a usage
error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from phasebench.errors import UsageError
from phasebench.testing.plugin_checks import _installed_plugin_names, check_plugin, check_together


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m phasebench.testing [PLUGIN ...]``: 0 when every check passes, else 1."""
    parser = argparse.ArgumentParser(
        prog="python -m phasebench.testing",
        description="Check phasebench plugins against the component contracts.",
    )
    parser.add_argument(
        "plugins",
        nargs="*",
        metavar="PLUGIN",
        help="entry-point names of installed plugins, or importable modules (default: all "
        "installed)",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    installed = _installed_plugin_names()
    names = args.plugins or installed
    failed = False
    for name in names:
        try:
            report = check_plugin(name)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(report, flush=True)
        failed = failed or not report.ok
    # Each plugin was checked beside the built-ins only; a command loads them all at once.
    together = check_together([n for n in names if n in installed] if args.plugins else None)
    print(together, flush=True)
    failed = failed or not together.ok
    return 1 if failed else 0
