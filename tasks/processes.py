"""Is a process still running? By pid and kernel start time, so a recycled pid is not mistaken for it.

Light on purpose (standard library only): the CLI asks it before importing Prefect or MLflow.
"""

from __future__ import annotations

import os
from pathlib import Path


def _stat_after_name(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()  # the fields after the command name, from field 3 (state) on


def start_time(pid: int) -> str:
    """The kernel's start time of process ``pid`` (clock ticks since boot), "" where unknown.

    With the pid it identifies a process uniquely: a recycled pid has another start time.
    """
    fields = _stat_after_name(pid)
    return fields[19] if fields else ""  # field 22 of proc(5)


def alive(pid: int, started: str = "") -> bool:
    """Whether process ``pid`` runs: it exists, is no zombie and, when ``started`` is known, began then."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _stat_after_name(pid)
    if fields and fields[0] == "Z":
        return False  # exited, not yet reaped by its parent
    return not started or not fields or fields[19] == started
