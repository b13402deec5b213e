"""Finding and ending the processes of one process group through /proc (psutil may be absent).

A test that starts a driver with ``start_new_session=True`` puts it, its worker processes and
the multiprocessing resource tracker in one group whose id is the driver's pid; these helpers
say which of them still live, wait for them to go, and end whatever is left.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")


def proc_available() -> bool:
    return (PROC / "self" / "stat").exists()


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of ``pid``, or None when it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], int(fields[1]), int(fields[2])


def group_members(pgid: int) -> dict[int, str]:
    """pid -> command line of every live (not zombie) process in process group ``pgid``
    (empty without /proc: the check then says nothing)."""
    if not proc_available():
        return {}
    members: dict[int, str] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[0] in ("Z", "X") or stat[2] != pgid:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        members[int(entry.name)] = cmdline
    return members


def wait_until_gone(pgid: int, timeout: float) -> dict[int, str]:
    """Wait up to ``timeout`` seconds for group ``pgid`` to empty; what still lives then."""
    deadline = time.monotonic() + timeout
    while True:
        left = group_members(pgid)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def kill_group(pgid: int) -> None:
    """SIGKILL whatever is left of group ``pgid`` (a test's cleanup)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
