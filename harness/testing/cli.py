"""``python -m phasebench.testing [PLUGIN ...]``: check installed plugins, print a report per
plugin, exit 0 when all pass, 1 on a failure, 2 on a usage error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from phasebench.errors import UsageError
from phasebench.testing.plugin_checks import _installed_plugin_names, check_plugin


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
    names = args.plugins or _installed_plugin_names()
    failed = False
    for name in names:
        try:
            report = check_plugin(name)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(report, flush=True)
        failed = failed or not report.ok
    return 1 if failed else 0
