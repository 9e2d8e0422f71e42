"""Dates in a series file: parsed with one format, the day's place told, and period ordinals per frequency.

Each refusal is a :class:`tasks.errors.InputError` naming the file, the row, the column and the rule.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from tasks.errors import InputError

FREQUENCIES = ("hourly", "daily", "weekly", "monthly", "quarterly", "yearly")
# pandas period codes: a regular series advances its period ordinal by exactly 1 per row.
PERIOD_CODES = {"hourly": "h", "daily": "D", "weekly": "W", "monthly": "M", "quarterly": "Q", "yearly": "Y"}


# Frequencies whose period ordinals are numpy's own datetime units (the same numbers, without Period objects).
_NUMPY_UNITS = {"hourly": "h", "daily": "D", "monthly": "M", "yearly": "Y"}


def ordinals(timestamps: pd.Series, frequency: str) -> np.ndarray:
    """``(n_rows,)`` each timestamp's period ordinal at ``frequency``: consecutive periods differ by 1."""
    unit = _NUMPY_UNITS.get(frequency)
    if unit is not None:
        return timestamps.to_numpy().astype(f"datetime64[{unit}]").astype(np.int64)
    return timestamps.dt.to_period(PERIOD_CODES[frequency]).astype("int64").to_numpy()


def parse_dates(
    path: str | Path,
    cells: Sequence[str],
    rows: Sequence[int],
    column: str,
    date_format: str | None = None,
    day_first: bool | None = None,
    guessed_format: str | None = None,
) -> pd.Series:
    """Parse a date column, every cell with one format.

    Args:
        path: the file, for messages.
        cells: ``(n_rows,)`` date cells as written.
        rows: ``(n_rows,)`` editor row number of each cell.
        column: the column's name, for messages.
        date_format: a ``strftime`` format; None infers one from the first cell (ISO 8601 dates
            such as ``1962-01`` or ``1992-01-01`` are read as such).
        day_first: for dates such as ``03/04/2020`` without ``date_format``: True reads the day
            first (3 April), False the month first (March 4); None detects it (:func:`day_order`).
        guessed_format: without ``date_format``, the format guessed from the first date of the
            file (:func:`guess_format`), so that a file read in chunks is read with one format.

    Returns:
        ``(n_rows,)`` timestamps, ``datetime64[s]``; time zones are converted to UTC and dropped.

    Raises:
        InputError: a cell is empty or does not parse, or the day's place cannot be told.
    """
    text = pd.Series(list(cells), dtype=object).str.strip()
    if date_format is None and day_first is None and _numeric_dates(text):
        day_first = day_order(path, text, column)
    parsed = _to_datetime(path, text, column, date_format or guessed_format, bool(day_first))
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        good = np.flatnonzero(~parsed.isna().to_numpy())
        example = f" (other rows look like {text.iloc[int(good[0])]!r})" if good.size else ""
        if not text.iloc[i]:
            raise InputError(f"missing date; every row needs one{example}", file=path, row=int(rows[i]), column=column)
        hint = "" if date_format else "; pass date_format= to say how to read them"
        raise InputError(
            f"not a date{example}{hint}", file=path, row=int(rows[i]), column=column, value=text.iloc[i]
        )
    return parsed.dt.tz_localize(None).astype("datetime64[s]")


def settle_dates(
    path: str | Path, cells: Sequence[str], column: str, date_format: str | None, day_first: bool | None
) -> tuple[bool | None, str | None]:
    """Decide, from the first chunk of a file's dates, what every chunk is read with.

    Returns:
        ``(day_first, guessed_format)``: the day's place (:func:`day_order` when the dates are
        numeric and nothing says it), and the format pandas would infer from the first date (None
        when ``date_format`` is given or none can be guessed: each chunk is then parsed as pandas
        parses it).
    """
    text = pd.Series(list(cells), dtype=object).str.strip()
    if date_format is None and day_first is None and _numeric_dates(text):
        day_first = day_order(path, text, column)
    if date_format is not None:
        return day_first, None
    first = next((t for t in text if t), None)
    return day_first, (guess_datetime_format(first, dayfirst=bool(day_first)) if first else None)


_NUMERIC_DATE = re.compile(r"^\d{1,2}([./-])\d{1,2}\1\d{2,4}(\s.*)?$", re.ASCII)


def _numeric_dates(text: pd.Series) -> bool:
    first = next((t for t in text if t), "")
    return bool(_NUMERIC_DATE.match(first))


def _to_datetime(path: str | Path, text: pd.Series, column: str, date_format: str | None, day_first: bool) -> pd.Series:
    with warnings.catch_warnings():
        # A format pandas cannot guess makes it fall back to per-cell parsing, with a warning.
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(text, errors="coerce", format=date_format, utc=True, dayfirst=day_first)
        except (ValueError, TypeError) as exc:
            raise InputError(f"date_format={date_format!r} is not usable: {exc}", file=path, column=column) from exc


def _regular(parsed: pd.Series) -> bool:
    """Tell whether the distinct dates advance one period at a time at some frequency."""
    stamps = pd.Series(parsed.dropna().dt.tz_localize(None).unique()).sort_values()
    if len(stamps) < 2:
        return True
    return any(bool((np.diff(ordinals(stamps, f)) == 1).all()) for f in FREQUENCIES)


def day_order(path: str | Path, text: pd.Series, column: str) -> bool:
    """Detect whether dates such as ``03/04/2020`` put the day first.

    The order that reads every cell wins; when both do, the one whose dates follow a regular
    calendar (daily, monthly...) wins. When that does not settle it either, the user must.

    Returns:
        True for day first, False for month first.

    Raises:
        InputError: the order cannot be told from the dates; names ``source.day_first``.
    """
    cells = text[text != ""]
    tries = {first: _to_datetime(path, cells, column, None, first) for first in (True, False)}
    whole = [first for first, parsed in tries.items() if not parsed.isna().any()]
    if len(whole) == 1:
        return whole[0]
    if not whole:
        return False  # neither reads every cell: parse_dates names the first bad one
    regular = [first for first in whole if _regular(tries[first])]
    if len(regular) == 1 or (tries[True] == tries[False]).all():
        return regular[0] if len(regular) == 1 else False
    sample = cells.iloc[0]
    raise InputError(f"dates such as {sample!r} read both day first and month first; set source.day_first = "
                     "true (day first, as in Europe) or false (month first, as in the US)", file=path, column=column)
