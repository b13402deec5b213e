"""Load the plugins for a command and warn, once, about those that failed."""

from __future__ import annotations

import sys

from phasebench import plugins
from phasebench.plugins import Components


def load_components(warn: bool = True) -> Components:
    components = plugins.components()
    if warn:
        for failure in components.failures:
            sys.stderr.write(f"warning: {failure.line()} (see `phasebench plugins`)\n")
    return components
