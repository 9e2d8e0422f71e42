"""Validation at the edge: every rule a series file must pass before anything is written.

Each check raises :class:`tasks.errors.InputError` naming the file, the row as the user's editor
numbers it (the header is row 1), the column and the rule, on one line, e.g.::

    sales.csv, row 7, column 'value': 'n/a!': not a number

The checks on parsed data work on a *working frame*: one row per data row of the file, with
columns ``series_id`` (str), ``timestamp`` (datetime64), ``value`` (float64, NaN where missing),
``row`` (the editor row number) and ``date_text`` (the date cell as written, for messages). A
frame without ``date_text`` (a large file's) comes with a ``date_text`` function that gives the cell
of a row of the file, called only for a message.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.errors import InputError
from tasks.forecasting.sources.dialect import check_readable, open_head  # noqa: F401  (their home)
from tasks.forecasting.sources.dates import (  # noqa: F401  (their home)
    FREQUENCIES,
    PERIOD_CODES,
    day_order,
    ordinals,
    parse_dates,
    settle_dates,
)
from tasks.forecasting.sources.numbers import MISSING_TOKENS, number, parse_values  # noqa: F401  (their home)

# The calendar's season length per frequency (M4's own convention differs: see sources.m4).
SEASON_LENGTHS = {"hourly": 24, "daily": 7, "weekly": 52, "monthly": 12, "quarterly": 4, "yearly": 1}
MISSING_POLICIES = ("error", "interpolate", "ffill")

_SNIFF_BYTES = 8192
_LETTERS = re.compile(r"[A-Za-z]{3,}")


def check_choice(value: str, choices: Sequence[str], key: str) -> str:
    """Return ``value`` when it is one of ``choices``.

    Raises:
        InputError: naming ``key``, the value and the valid choices.
    """
    if value not in choices:
        raise InputError(f"must be one of {', '.join(choices)}", key=key, value=value)
    return value


def is_blank(cells: Sequence[str]) -> bool:
    """Tell whether a CSV record holds nothing but empty cells."""
    return all(not c.strip() for c in cells)


def _looks_like_data(cell: str) -> bool:
    text = cell.strip()
    if not text:
        return False
    try:
        float(text)
        return True
    except ValueError:
        pass
    if not any(ch.isdigit() for ch in text):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return not pd.isna(pd.to_datetime(text, errors="coerce"))


def check_header(path: str | Path, header: Sequence[str], row: int) -> list[str]:
    """Check that the first row is a header and return its column names, stripped.

    Raises:
        InputError: every cell of the row is a number or a date (no header), or a name is blank or
            repeated.
    """
    names = [c.strip() for c in header]
    while len(names) > 1 and names[-1] == "":
        names.pop()  # spreadsheets export trailing empty cells
    if all(_looks_like_data(n) for n in names):
        shown = ", ".join(repr(n) for n in names[:4])
        raise InputError(
            f"no header row: the first row ({shown}) looks like data; add a header such as date,value",
            file=path,
            row=row,
        )
    for i, name in enumerate(names):
        if not name:
            raise InputError(f"column {i + 1} has no name; every column needs one", file=path, row=row)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError("column name appears twice in the header", file=path, row=row, column=name)
        seen.add(name)
    return names


def check_column(path: str | Path, name: str, header: Sequence[str], argument: str, row: int) -> int:
    """Return the position of column ``name`` in ``header``.

    Raises:
        InputError: ``name`` is not in the header; the message lists the real columns.
    """
    if name not in header:
        real = ", ".join(repr(h) for h in header)
        raise InputError(
            f"{argument}={name!r} is not a column; the header has {real}", file=path, row=row, column=name
        )
    return list(header).index(name)


DateText = Callable[[int], str]  # a file's row number -> its date cell as written


def _date(row: pd.Series, date_text: DateText | None) -> str:
    """The date cell of a working frame's row, as written: its ``date_text``, or read back from the file."""
    if "date_text" in row.index:
        return row["date_text"]
    if date_text is None:
        raise ValueError("a working frame without date_text needs the date_text function")
    return date_text(int(row["row"]))


def check_duplicates(path: str | Path, work: pd.DataFrame, column: str, date_text: DateText | None = None) -> None:
    """Refuse two rows with the same timestamp in one series.

    ``work`` is sorted by series then time, so two rows of one series and time are neighbours:
    looking at neighbours costs a few bits a row where hashing every row would cost tens of bytes.

    Raises:
        InputError: at the later of the two rows, naming the earlier one.
    """
    codes, stamps = series_codes(work), work["timestamp"].to_numpy()
    if not bool(np.any((codes[1:] == codes[:-1]) & (stamps[1:] == stamps[:-1]))):
        return
    dup = work.duplicated(["series_id", "timestamp"], keep=False)
    if not dup.any():
        return
    clash = work[dup].sort_values("row")
    first = clash.iloc[0]
    same = clash[(clash["series_id"] == first["series_id"]) & (clash["timestamp"] == first["timestamp"])]
    later = same.iloc[1]
    raise InputError(
        f"duplicate timestamp in series {first['series_id']!r}: row {int(first['row'])} has the same one",
        file=path,
        row=int(later["row"]),
        column=column,
        value=_date(later, date_text),
    )


def series_codes(work: pd.DataFrame) -> np.ndarray:
    """``(n_rows,)`` an integer per row, equal for rows of one series (a categorical's codes: no text copied)."""
    column = work["series_id"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy()
    return pd.factorize(column)[0]


def _steps(work: pd.DataFrame, frequency: str) -> tuple[np.ndarray, np.ndarray]:
    """Measure the period steps from each row to the next in its series (``work`` sorted by series, time)."""
    ordinal = ordinals(work["timestamp"], frequency)
    codes = series_codes(work)
    same_series = codes[1:] == codes[:-1]
    return np.diff(ordinal)[same_series], _Rows(same_series)


class _Rows:
    """Where each step of :func:`_steps` ends: ``rows[k]`` is the working frame's row of step ``k``.

    Computed for the one step a message names, not as an index array for every row.
    """

    def __init__(self, same_series: np.ndarray) -> None:
        self._same = same_series

    def __getitem__(self, k: int) -> int:
        return int(np.flatnonzero(self._same)[k]) + 1


def infer_frequency(path: str | Path, work: pd.DataFrame, column: str, date_text: DateText | None = None) -> str:
    """Infer the frequency: the finest one at which rows advance one period at a time.

    A frequency fits when no two rows of a series share a period and the commonest step is one
    period; gaps (steps of several periods) are left to :func:`check_calendar`, which names them.

    Args:
        path: the file, for messages.
        work: the working frame, sorted by series then time.
        column: the date column's name, for messages.

    Returns:
        One of :data:`FREQUENCIES`.

    Raises:
        InputError: no series has two rows, or no frequency fits.
    """
    for frequency in FREQUENCIES:
        steps, _ = _steps(work, frequency)
        if steps.size == 0:
            raise InputError(
                "cannot infer the frequency from a single row per series; pass frequency=",
                file=path,
                column=column,
            )
        # The commonest step is one period: counted without sorting every step (np.unique would).
        ones = int(np.count_nonzero(steps == 1))
        if not ones:
            continue
        others = steps[steps != 1]
        if steps.min() >= 1 and (not others.size or ones >= np.unique(others, return_counts=True)[1].max()):
            return frequency
    _, at = _steps(work, "daily")
    first = int(at[0])
    prev, here = work.iloc[first - 1], work.iloc[first]
    finer = _finer_than_hourly(work)
    if finer is not None:
        raise InputError(
            f"rows {finer} apart (e.g. {_date(prev, date_text)!r} to {_date(here, date_text)!r}): finer than hourly; "
            f"seqflow forecasts {', '.join(FREQUENCIES)} series: aggregate the rows to hourly (or coarser) first",
            file=path,
            row=int(here["row"]),
            column=column,
        )
    raise InputError(
        f"cannot infer the frequency: the steps between rows (e.g. {_date(prev, date_text)!r} to "
        f"{_date(here, date_text)!r}) fit none of {', '.join(FREQUENCIES)}; pass frequency=",
        file=path,
        row=int(here["row"]),
        column=column,
    )


def _finer_than_hourly(work: pd.DataFrame) -> str | None:
    """Say the commonest spacing of rows within a series when it is under an hour, e.g. ``1 minute``."""
    seconds = np.diff(work["timestamp"].to_numpy().astype("datetime64[s]").astype(np.int64))
    codes = series_codes(work)
    same = codes[1:] == codes[:-1]
    seconds = seconds[same & (seconds > 0)]
    if not seconds.size:
        return None
    sizes, counts = np.unique(seconds, return_counts=True)
    step = int(sizes[counts.argmax()])
    if step >= 3600:
        return None
    if step % 60 == 0:
        return f"{step // 60} minute{'s' if step >= 120 else ''}"
    return f"{step} second{'s' if step > 1 else ''}"


def check_calendar(
    path: str | Path, work: pd.DataFrame, frequency: str, column: str, date_text: DateText | None = None
) -> None:
    """Refuse gaps in the calendar and two rows in one period of ``frequency``.

    Args:
        path: the file, for messages.
        work: the working frame, sorted by series then time.
        frequency: one of :data:`FREQUENCIES`.
        column: the date column's name, for messages.

    Raises:
        InputError: at the row after a gap, or at the second row in one period.
    """
    steps, at = _steps(work, frequency)
    bad = np.flatnonzero(steps != 1)
    if not bad.size:
        return
    k = int(bad[0])
    prev, here = work.iloc[int(at[k]) - 1], work.iloc[int(at[k])]
    series = here["series_id"]
    if steps[k] == 0:
        raise InputError(
            f"falls in the same {frequency} period as row {int(prev['row'])} ({_date(prev, date_text)!r}) "
            f"in series {series!r}; frequency={frequency!r} needs one row per period",
            file=path,
            row=int(here["row"]),
            column=column,
            value=_date(here, date_text),
        )
    missing = int(steps[k]) - 1
    raise InputError(
        f"gap in the calendar: follows {_date(prev, date_text)!r} in series {series!r}, {missing} {frequency} "
        f"step{'s' if missing > 1 else ''} missing; add the missing rows (an empty value is filled by "
        "missing='interpolate' or 'ffill')",
        file=path,
        row=int(here["row"]),
        column=column,
        value=_date(here, date_text),
    )


def fill_missing(path: str | Path, work: pd.DataFrame, policy: str, column: str) -> pd.DataFrame:
    """Apply the missing-value policy per series: refuse, interpolate linearly, or carry forward.

    Args:
        path: the file, for messages.
        work: the working frame, sorted by series then time, with no calendar gaps.
        policy: one of :data:`MISSING_POLICIES`.
        column: the value column's name, for messages.

    Returns:
        ``work`` with no NaN values.

    Raises:
        InputError: a value is missing under ``error``, or a missing value has no earlier value to
            carry forward (``ffill``) or no value on both sides to interpolate between.
    """
    check_choice(policy, MISSING_POLICIES, "missing")
    gaps = work["value"].isna().to_numpy()
    if not gaps.any():
        return work
    if policy == "error":
        first = work.iloc[int(np.flatnonzero(gaps)[0])]
        raise InputError(
            "missing value; set missing='interpolate' or 'ffill' to fill it (missing='error')",
            file=path,
            row=int(first["row"]),
            column=column,
        )
    grouped = work.groupby("series_id", sort=False)["value"]
    if policy == "interpolate":
        filled = grouped.transform(lambda s: s.interpolate(method="linear", limit_area="inside"))
        rule = "missing value at the start or end of series {sid!r}: nothing on both sides to interpolate between"
    else:
        filled = grouped.ffill()
        rule = "missing value at the start of series {sid!r}: nothing earlier to carry forward (missing='ffill')"
    still = filled.isna().to_numpy()
    if still.any():
        first = work.iloc[int(np.flatnonzero(still)[0])]
        raise InputError(rule.format(sid=first["series_id"]), file=path, row=int(first["row"]), column=column)
    return work.assign(value=filled.to_numpy(dtype=np.float64))


def check_length(path: str | Path, work: pd.DataFrame, min_length: int, column: str, why: str | None = None) -> None:
    """Refuse a series with fewer than ``min_length`` values.

    Args:
        path: the file (or input) named in the message.
        work: the long frame with ``series_id`` and ``row`` (the file's row numbers).
        min_length: the fewest values a series may have.
        column: the values' column, named in the message.
        why: what needs ``min_length`` values, said after it; off = the ``min_length`` setting itself.

    Raises:
        InputError: at the first row of the first series that is too short.
    """
    if min_length < 1:
        raise InputError("must be >= 1", key="min_length", value=min_length)
    counts = work.groupby("series_id", sort=False)["row"].agg(["size", "min", "max"])
    short = counts[counts["size"] < min_length]
    if short.empty:
        return
    sid = short.index[0]
    size, first, last = (int(v) for v in short.iloc[0])
    raise InputError(
        f"series {sid!r} has {size} values (rows {first}-{last}); "
        + (f"min_length={min_length} needs at least {min_length}" if why is None
           else f"this model needs at least {min_length} ({why})"),
        file=path,
        row=first,
        column=column,
    )


def footer_like(cells: Sequence[str], date_index: int, value_index: int) -> bool:
    """Tell whether a record looks like trailing prose rather than a broken data row.

    It does when its date cell is no date, its value cell no number, and it carries a word of
    three letters or more (``Source: FRED``); ``1972-13,`` is a broken row, not a footer.
    """
    def cell(i: int) -> str:
        return cells[i].strip() if i < len(cells) else ""

    if _looks_like_data(cell(date_index)):
        return False
    value = cell(value_index)
    if value and value not in MISSING_TOKENS:
        try:
            float(value)
            return False
        except ValueError:
            pass
    return any(_LETTERS.search(c) for c in cells)


def shown(cells: Iterable[str], limit: int = 80) -> str:
    """Render a record for a log line, cut to ``limit`` characters."""
    text = ",".join(cells)
    return text if len(text) <= limit else text[: limit - 3] + "..."
