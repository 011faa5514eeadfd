"""How a local worker process is identified: its machine, its pid and the process's start time.

A pid alone is not enough: after a worker dies the system may give its pid to another process, which
must not be taken for the worker. The start time (field 22 of ``/proc/<pid>/stat``) tells them apart.
With a shared database (PostgreSQL) the run may belong to a worker on another machine, whose pid means
nothing here: such a worker is taken as alive (only its own machine, or its executor, can tell).
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/<pid>/stat`` (``[0]`` is the state); None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def _start_time(fields: list[str] | None) -> int | None:
    try:
        return int(fields[19]) if fields else None  # fields[0] is field 3 (state), so field 22 is fields[19]
    except (IndexError, ValueError):
        return None


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time in clock ticks after boot); None if unknown."""
    return _start_time(_stat_fields(pid))


def process_handle(pid: int | None = None) -> dict[str, Any]:
    """The handle that identifies a local process: its machine, pid and start time."""
    pid = os.getpid() if pid is None else pid
    return {"host": socket.gethostname(), "pid": pid, "start": process_start_time(pid)}


def process_alive(handle: dict[str, Any]) -> bool:
    """Whether the local process named by ``handle`` still runs (a zombie counts as dead).

    A handle without a pid (another kind of executor), or from another machine, is taken as alive:
    only its executor can tell. A handle without a machine is one of this machine's.
    """
    if not handle:
        return False  # a running run that no worker owns
    pid = handle.get("pid")
    if pid is None or handle.get("host", socket.gethostname()) != socket.gethostname():
        return True
    if not isinstance(pid, int) or pid <= 0:
        return False
    if Path("/proc/self/stat").exists():
        fields = _stat_fields(pid)  # one read gives both the state and the start time
        if not fields or fields[0] in ("Z", "X", "x"):
            return False
        start = handle.get("start")
        return start is None or _start_time(fields) == start
    try:  # no /proc (macOS): only the pid can be checked
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def log_hint(path: Path) -> str:
    """The last error line a dead worker wrote, if any, to say why it died."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4000))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):  # the last line of a Python traceback: "SomeError: message"
        if EXCEPTION_LINE.match(line):
            return f" Its last message: {line.strip()[:300]}"
    return ""


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)(: .*)?$")
