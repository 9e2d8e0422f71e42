"""Bad input, a fault of the environment, or a crash: the error types the CLI tells apart.

Every check at the edge (config, CSV, corpus, the ``SEQFLOW_ARTIFACTS`` folder) raises
:class:`InputError`. The CLI maps it to exit code 2 and one line naming where the problem is (file,
row, column, key, value) and the rule broken. A fault of the machine or of a store that the user's
input did not cause (a damaged MLflow database, a failing disk) is an :class:`EnvironmentFault`:
exit code 1 and one line naming the file or store and what to do. Any other exception is a crash:
exit code 1 with its traceback, and every run it opened FAILED.
"""

from __future__ import annotations

import errno
import stat
from pathlib import Path
from typing import Any

_UNSET: Any = object()


class InputError(ValueError):
    """Input that breaks a rule; ``str()`` is one line: where, then the rule.

    Args:
        rule: what is wrong and, where it helps, what would be right.
        file: the file the problem is in.
        row: 1-based row as the user's editor numbers it (the header is row 1).
        column: the column's name.
        key: a dotted config key, e.g. ``window.lookback``.
        value: the offending value (shown with ``repr``).
    """

    def __init__(
        self,
        rule: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        key: str | None = None,
        value: Any = _UNSET,
    ):
        self.rule = rule
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.key = key
        self.value = None if value is _UNSET else value
        self.has_value = value is not _UNSET
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        subject = ""
        if self.key is not None:
            subject = f"{self.key} = {self.value!r}" if self.has_value else self.key
        elif self.has_value:
            subject = repr(self.value)
        head = ", ".join(where)
        parts = [p for p in (head, subject) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.rule}" if prefix else self.rule


class EnvironmentFault(RuntimeError):
    """A fault of the machine or of a store, not of the user's input; ``str()`` is one line.

    It names the file, store, port or setting, what is wrong and what to do; the CLI prints it and
    exits 1, without a traceback.
    """


def not_a_file_rule(path: str | Path) -> str:
    """The rule broken by a path that exists but is not a regular file, naming what it is.

    A FIFO or a device where a file is expected would block a reader until someone writes to it.
    """
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return "not a regular file; give a file"
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    kind = next((name for test, name in kinds if test(mode)), "not a file")
    return f"not a regular file ({kind}); give a file"


def unreadable_rule(exc: OSError) -> str:
    """The rule for a file the user named that could not be read, from the ``OSError`` reading it."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read: permission denied; check its permissions (or copy it somewhere you can read)"
    if exc.errno == errno.ENOENT:
        return "file not found"
    if exc.errno == errno.EISDIR:
        return "not a regular file (a directory); give a file"
    return f"cannot be read ({exc.strerror or exc}); check the disk or share it is on"


def file_read_error(exc: OSError, file: str | Path) -> InputError | EnvironmentFault:
    """The one-line error for ``file``, named by the user, that could not be read.

    Permissions, a missing file or a directory are the user's to fix (:class:`InputError`, exit 2);
    anything else (an I/O error of the disk or share) is a fault (:class:`EnvironmentFault`, exit 1).
    """
    rule = unreadable_rule(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.EISDIR):
        return InputError(rule, file=file)
    return EnvironmentFault(f"{file}: {rule}")
