"""Text that comes from plugins, configurations, files or errors, printed literally by Rich.

Rich reads ``[...]`` as markup: a plugin description saying "[/]" would crash the table, and
"[bold]" in a path would vanish. Every such string goes through ``literal`` before Rich sees
it; the CLI's own styling stays markup.
"""

from __future__ import annotations

from rich.markup import escape


def literal(value: object) -> str:
    """``value`` as text that Rich prints exactly as written."""
    return escape(str(value))
