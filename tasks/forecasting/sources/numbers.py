"""Numbers in a series file: the forms a CSV writer emits, with either decimal mark, and nothing else.

Python's ``float`` reads more than a spreadsheet or ``to_csv`` ever writes (``1_000``, ``١٢``,
``infinity``); a value like that in a file is a fault of the file, so it is refused naming its row
and column rather than read as a number nobody wrote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.errors import InputError

# Cells read as "no value". "." is FRED's marker for a missing observation.
MISSING_TOKENS = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "."})


def parse_values(
    path: str | Path, cells: Sequence[str], rows: Sequence[int], column: str, decimal: str = "."
) -> np.ndarray:
    """Parse a value column; missing markers (see :data:`MISSING_TOKENS`) become NaN.

    Only the forms a CSV writer emits are numbers (:func:`number`): ``1_000``, ``0x10``, ``١٢``
    or ``infinity`` are refused, though Python's ``float`` would take some of them.

    Args:
        path: the file, for messages.
        cells: ``(n_rows,)`` value cells as written.
        rows: ``(n_rows,)`` editor row number of each cell.
        column: the column's name, for messages.
        decimal: the decimal mark, ``.`` or ``,`` (then ``1.234,5`` is 1234.5).

    Returns:
        ``(n_rows,)`` float64 values, NaN where a value is missing.

    Raises:
        InputError: a cell is not a number, is infinite or NaN spelled as a number, or overflows
            float64 (``1e999``).
    """
    fast = _plain_values(cells) if decimal == "." else None
    if fast is not None:
        return fast
    out = np.empty(len(cells), dtype=np.float64)
    for i, cell in enumerate(cells):
        text = cell.strip()
        if text in MISSING_TOKENS:
            out[i] = np.nan
            continue
        try:
            out[i] = number(text, decimal)
        except ValueError as exc:
            raise InputError(str(exc), file=path, row=int(rows[i]), column=column, value=text) from None
    return out


_NUMBER = {
    ".": re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", re.ASCII),
    ",": re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d*)?([eE][+-]?\d+)?$|^[+-]?,\d+([eE][+-]?\d+)?$", re.ASCII),
}
_NON_FINITE = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "+nan", "-nan"})


def number(text: str, decimal: str = ".") -> float:
    """Read one stripped cell as a finite float, in a form a CSV writer emits.

    Args:
        text: the cell, stripped.
        decimal: the decimal mark, ``.`` or ``,``.

    Raises:
        ValueError: the rule the cell breaks, for the message.
    """
    if text.lower() in _NON_FINITE:
        raise ValueError("not a finite number; values must be finite")
    if not _NUMBER[decimal].match(text):
        if decimal == "." and _NUMBER[","].match(text) and "," in text:
            raise ValueError("not a number (a decimal comma? set source.decimal = ',')")
        if decimal == "," and _NUMBER["."].match(text) and "." in text:
            raise ValueError("not a number with source.decimal = ',' (a decimal point? set source.decimal = '.')")
        return _not_a_number(text)
    plain = text.replace(".", "").replace(",", ".") if decimal == "," else text
    value = float(plain)
    if not np.isfinite(value):
        raise ValueError("out of range: beyond float64's largest value (about 1.8e308)")
    return value


def _not_a_number(text: str) -> float:
    try:
        float(text)
    except ValueError:
        raise ValueError("not a number") from None
    raise ValueError("not a number in a form a CSV writer emits (digits, one '.', an optional exponent; "
                     "no '_', hex or non-ASCII digits)")


# _NUMBER["."] spelled for Arrow's regex engine, whose \d takes any script's digits (as Python's would without re.ASCII).
_PLAIN = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"


def _plain_values(cells: Sequence[str]) -> np.ndarray | None:
    """Parse a column whose every cell is a plain number or a missing marker, vectorised; None if any is not.

    The common case of a large file, checked with the same pattern as :func:`number` at C speed;
    anything else (a bad cell, an overflow) is left to the cell-by-cell loop, which names it.
    """
    text = pd.Series(cells, dtype="str").str.strip()
    missing = text.isin(MISSING_TOKENS).to_numpy()
    plain = text.str.fullmatch(_PLAIN).to_numpy(dtype=bool, na_value=False)
    if not bool(np.all(plain | missing)):
        return None
    out = np.full(len(text), np.nan)
    out[~missing] = np.asarray(text[~missing].to_numpy(dtype=object), dtype=np.float64)
    if not bool(np.isfinite(out[~missing]).all()):
        return None
    return out
