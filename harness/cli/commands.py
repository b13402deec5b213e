"""The built-in commands, registered through ``register_commands`` like a third party's.

This module is the plugin behind the ``builtin-commands`` entry point. ``list`` and ``plugins``
are not here: the application installs them itself, so they work whatever a plugin does.
"""

from __future__ import annotations

from phasebench.hookspecs import hookimpl

#: command name -> (the Typer that holds it, one line for ``phasebench list command``)
BUILTIN_COMMANDS = {
    "run": ("phasebench.cli.run_cmd:commands", "the phase probe for one point"),
    "sweep": ("phasebench.cli.sweep_cmd:commands", "the phase probe over depth x width"),
    "trace": ("phasebench.cli.trace_cmd:commands", "long runs measured every K steps"),
    "show": ("phasebench.cli.show_cmd:commands", "the tables of a results file"),
    "plot": ("phasebench.cli.plot_cmd:commands", "the figures of a results file"),
    "export": ("phasebench.cli.export_cmd:commands", "a results file as CSV, Parquet, netCDF"),
    "sharpness": ("phasebench.cli.sharpness_cmd:commands", "the sharpness of one model"),
    "spectrum": ("phasebench.cli.spectrum_cmd:commands", "the Hessian's spectral density (SLQ)"),
    "bench": ("phasebench.cli.sharpness_cmd:commands", "every estimator against the exact one"),
    "data": ("phasebench.cli.data_cmd:commands", "where the dataset files are; fetch them"),
    "cache": ("phasebench.cli.cache_cmd:commands", "the HVP backend choices kept on disk"),
}


@hookimpl
def register_commands(register):
    for name, (target, description) in BUILTIN_COMMANDS.items():
        register(name, target, description=description)
