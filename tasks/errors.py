"""Bad input versus a crash: the one error type that means "the user gave us something wrong".

Every check at the edge (config, CSV, corpus) raises :class:`InputError`. The CLI maps it to exit
code 2 and one line naming where the problem is (file, row, column, key, value) and the rule broken.
Any other exception is a crash: exit code 1 with its traceback, and every run it opened FAILED.
"""

from __future__ import annotations

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
