"""``phasebench cache show`` and ``phasebench cache clear``: what phasebench computed once and
keeps for later processes (today the HVP backend choice, ``phasebench.hessian.backend_cache``).
Dataset files in the same folder are not touched (``phasebench data``). Never imports torch.
"""

from __future__ import annotations

import typer

from phasebench.hessian import backend_cache

cache_app = typer.Typer(
    help="The HVP backend choices kept between processes ($PHASEBENCH_CACHE, else "
    "$XDG_CACHE_HOME/phasebench): show or clear them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
#: What the built-in commands plugin installs: the ``cache`` group.
commands = typer.Typer()
commands.add_typer(cache_app, name="cache")


@cache_app.command("show")
def show() -> None:
    """Where the cache file is and how many backend choices it holds."""
    path = backend_cache.cache_file()
    count = backend_cache.entries()
    typer.echo(f"{path}: {count} HVP backend choice{'s' if count != 1 else ''}")


@cache_app.command("clear")
def clear() -> None:
    """Forget the stored HVP backend choices (the next run calibrates again); dataset files
    are kept."""
    count = backend_cache.clear()
    typer.echo(f"removed {count} HVP backend choice{'s' if count != 1 else ''}")
