"""CSV series in: one series (``date,value``) or many in long format (``series_id,date,value``).

Whatever the file, the result is one long frame ``series_id`` (str), ``timestamp`` (datetime64[s]),
``value`` (float64), sorted by series then time, plus the frequency and the rows that were skipped
(empty rows, a text footer) with the reason, for the caller to log. Every rule the file breaks is an
:class:`tasks.errors.InputError` from :mod:`.validation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.errors import InputError
from tasks.forecasting.sources import dialect
from tasks.forecasting.sources import validation as v

SERIES_COLUMNS = ("series_id", "timestamp", "value")

# Header names (lower case) read as a role when the caller does not name the column.
DATE_NAMES = frozenset({"date", "ds", "timestamp", "time", "datetime", "month", "period", "week", "day", "year", "quarter", "hour"})
ID_NAMES = frozenset({"series_id", "unique_id", "id", "series", "item_id"})
VALUE_NAMES = frozenset({"value", "y", "target", "sales", "values"})


@dataclass(frozen=True)
class SkippedRow:
    """A row of the file that was not read as data, and why."""

    row: int  # as the user's editor numbers it (the header is row 1)
    reason: str
    text: str  # the row as written, cut for a log line


@dataclass(frozen=True)
class SeriesTable:
    """Series read from a file, in the long layout every source lands in."""

    frame: pd.DataFrame  # series_id (str), timestamp (datetime64[s]), value (float64); by series, time
    frequency: str  # one of validation.FREQUENCIES
    season_length: int  # the calendar's: 24 hourly, 7 daily, 52 weekly, 12 monthly, 4 quarterly, 1 yearly
    skipped: tuple[SkippedRow, ...] = ()
    columns: dict[str, str | None] = field(default_factory=dict)  # role -> the file's column name
    rows: np.ndarray | None = field(default=None, compare=False)  # (len(frame),) each value's editor row

    @property
    def n_series(self) -> int:
        """Count the series in the table."""
        return int(self.frame["series_id"].nunique())


def read_records(text: str, separator: str = ",", path: str | Path | None = None) -> list[tuple[int, list[str]]]:
    """Split CSV text into ``(row, cells)`` records: :func:`.dialect.read_records`."""
    return dialect.read_records(text, separator, path)


def _pick(
    path: str | Path, header: list[str], taken: set[str], names: frozenset[str], role: str, argument: str
) -> str | None:
    found = [h for h in header if h not in taken and h.lower() in names]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        listed = ", ".join(repr(h) for h in found)
        raise InputError(f"cannot tell which column holds the {role} ({listed}); pass {argument}=", file=path, row=1)
    return None


def _left_over_id(path: str | Path, name: str, header_row: int, cells: Sequence[str]) -> str:
    """Take the one column left over beside a named value column as the series id, or refuse it."""
    filled = [c for c in cells if c.strip() and c.strip() not in v.MISSING_TOKENS]  # a price may have gaps
    if name.lower() in ID_NAMES or not filled:
        return name
    for cell in filled:
        try:
            float(cell)
        except ValueError:
            return name  # text: ids
    raise InputError(
        f"column {name!r} is left over beside value_column and holds numbers: pass id_column={name!r} if it holds "
        f"the series ids, or ignore_columns={name!r} to leave it out",
        file=path,
        row=header_row,
        column=name,
    )


def resolve_columns(
    path: str | Path,
    header: list[str],
    header_row: int,
    date_column: str | None,
    value_column: str | None,
    id_column: str | None,
    id_cells: Callable[[str], Sequence[str]] | None = None,
) -> dict[str, str | None]:
    """Name the date, value and (for many series) id columns, from the arguments or the header.

    Inference, for a role the caller left as None: a header with two columns is ``date,value``
    (the date column is the one named like a date, else the first); with more, a role is read
    from a column named like it (``date``/``month``/``ds``..., ``series_id``/``id``...,
    ``value``/``y``/``sales``...) or from the one column left over. A column left over beside a
    named ``value_column`` is the series id only when it is named like one or holds text: a second
    column of numbers (a price beside the sales) is refused, naming ``id_column`` and
    ``ignore_columns``, never silently made the id. Anything else is ambiguous and refused, naming
    the argument that settles it.

    Args:
        id_cells: a column's data cells by name, to tell ids from numbers; None takes the column
            left over as the id.

    Returns:
        ``{"date": name, "value": name, "id": name or None}``.

    Raises:
        InputError: a named column does not exist, or a role cannot be told.
    """
    for argument, name in (("date_column", date_column), ("value_column", value_column), ("id_column", id_column)):
        if name is not None:
            v.check_column(path, name, header, argument, header_row)
    taken = {n for n in (date_column, value_column, id_column) if n is not None}
    date = date_column or _pick(path, header, taken, DATE_NAMES, "dates", "date_column")
    if date is None:
        rest = [h for h in header if h not in taken]
        if len(header) == 2 and rest:
            date = rest[0]
        else:
            raise InputError(
                f"cannot tell which column holds the dates among {', '.join(map(repr, rest))}; pass date_column=",
                file=path,
                row=header_row,
            )
    taken.add(date)
    ident = id_column
    if ident is None and len(header) > 2:
        ident = _pick(path, header, taken, ID_NAMES, "series ids", "id_column")
        rest = [h for h in header if h not in taken]
        if ident is None and value_column is not None and len(rest) == 1:
            ident = _left_over_id(path, rest[0], header_row, id_cells(rest[0]) if id_cells else ())
        if ident is None and len(rest) > 1:
            raise InputError(
                f"cannot tell which column holds the series ids among {', '.join(map(repr, rest))}; "
                "pass id_column= (or give a file with only date,value for one series)",
                file=path,
                row=header_row,
            )
    if ident is not None:
        taken.add(ident)
    value = value_column
    if value is None:
        rest = [h for h in header if h not in taken]
        value = rest[0] if len(rest) == 1 else _pick(path, header, taken, VALUE_NAMES, "values", "value_column")
        if value is None:
            listed = ", ".join(map(repr, rest)) or "(none left)"
            raise InputError(
                f"cannot tell which column holds the values among {listed}; pass value_column=",
                file=path,
                row=header_row,
            )
    return {"date": date, "value": value, "id": ident}


def read_series_csv(
    path: str | Path,
    *,
    date_column: str | None = None,
    value_column: str | None = None,
    id_column: str | None = None,
    series_id: str | None = None,
    frequency: str | None = None,
    missing: str = "error",
    min_length: int = 1,
    date_format: str | None = None,
    separator: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    day_first: bool | None = None,
    ignore_columns: Sequence[str] = (),
) -> SeriesTable:
    """Read a CSV of one or many series into the long layout, validating every rule on the way.

    Args:
        path: the CSV file; its first non-empty row is the header.
        date_column: the dates' column; None infers it (see :func:`resolve_columns`).
        value_column: the values' column; None infers it.
        id_column: the series ids' column for a long file of many series; None infers it, and a
            two-column file is one series.
        series_id: the id of a single series; None uses the file's stem (``monthly-milk``).
        frequency: one of ``hourly, daily, weekly, monthly, quarterly, yearly``; None infers it.
        missing: what to do with an empty value: ``error``, ``interpolate`` (linear, between two
            known values) or ``ffill`` (carry the last known value forward).
        min_length: the fewest values a series may have (a forecast run passes ``lookback +
            horizon`` plus its backtest folds).
        date_format: a ``strftime`` format for the dates; None infers it from the first one.
        separator: the cell separator; None detects it (``,`` ``;`` tab ``|``).
        decimal: the decimal mark, ``.`` or ``,``; None detects it (``,`` only beside a separator
            other than a comma).
        encoding: a Python codec name; None detects it (UTF-8 with or without BOM, UTF-16, Latin-1).
        day_first: dates such as ``03/04/2020`` put the day first (True) or the month (False);
            None detects it.
        ignore_columns: columns left out before the others are named or inferred.

    Returns:
        The series, their frequency and season length, the skipped rows and the columns used.

    Raises:
        InputError: the file breaks a rule (see :mod:`.validation`); one line naming the file, the
            row, the column and the rule.
    """
    if frequency is not None:
        v.check_choice(frequency, v.FREQUENCIES, "frequency")
    v.check_choice(missing, v.MISSING_POLICIES, "missing")
    if min_length < 1:
        raise InputError("must be >= 1", key="min_length", value=min_length)
    text = v.check_readable(path, encoding)
    found = dialect.sniff(text, separator, decimal)
    skipped: list[SkippedRow] = []
    records = []
    for row, cells in read_records(text, found.separator, path):
        if v.is_blank(cells):
            skipped.append(SkippedRow(row, "empty row", v.shown(cells)))
        else:
            records.append((row, cells))
    if not records:
        raise InputError("file is empty", file=path)
    header_row, header_cells = records[0]
    full_header = v.check_header(path, header_cells, header_row)
    for name in ignore_columns:
        v.check_column(path, name, full_header, "ignore_columns", header_row)
    header = [h for h in full_header if h not in ignore_columns]
    cols = resolve_columns(path, header, header_row, date_column, value_column, id_column,
                           lambda name: _cells(records[1:], full_header.index(name))[:200])
    di, vi = full_header.index(cols["date"]), full_header.index(cols["value"])
    ii = full_header.index(cols["id"]) if cols["id"] is not None else None

    data = records[1:]
    footer_start = len(data)
    while footer_start > 0 and v.footer_like(data[footer_start - 1][1], di, vi):
        footer_start -= 1
    for row, cells in data[footer_start:]:
        skipped.append(SkippedRow(row, "text after the last data row (a footer)", v.shown(cells)))
    data = data[:footer_start]
    if not data:
        raise InputError("no data rows below the header", file=path)

    width = len(full_header)
    for row, cells in data:
        extra = [c for c in cells[width:] if c.strip()]
        if extra:
            raise InputError(
                f"row has {len(cells)} cells but the header has {width} columns", file=path, row=row
            )
    rows = np.array([row for row, _ in data], dtype=np.int64)
    for index in (di, vi, ii):
        if index is not None:
            _check_one_line(path, data, index, full_header[index], found.separator)

    date_text = [c.strip() for c in _cells(data, di)]
    timestamps = v.parse_dates(path, date_text, rows, cols["date"], date_format, day_first)
    values = v.parse_values(path, _cells(data, vi), rows, cols["value"], found.decimal)
    if ii is None:
        ids = np.full(len(data), series_id if series_id is not None else Path(path).stem, dtype=object)
    else:
        ids = np.array([c.strip() for c in _cells(data, ii)], dtype=object)
        empty = np.flatnonzero(ids == "")
        if empty.size:
            raise InputError("missing series id", file=path, row=int(rows[empty[0]]), column=cols["id"])

    work = pd.DataFrame(
        {"series_id": pd.array(ids, dtype="str"), "timestamp": timestamps.to_numpy(), "value": values,
         "row": rows, "date_text": date_text}
    )
    work = work.sort_values(["series_id", "timestamp", "row"], kind="stable", ignore_index=True)
    v.check_duplicates(path, work, cols["date"])
    freq = frequency or v.infer_frequency(path, work, cols["date"])
    v.check_calendar(path, work, freq, cols["date"])
    work = v.fill_missing(path, work, missing, cols["value"])
    v.check_length(path, work, min_length, cols["value"])

    frame = work[list(SERIES_COLUMNS)].reset_index(drop=True)
    return SeriesTable(
        frame=frame,
        frequency=freq,
        season_length=v.SEASON_LENGTHS[freq],
        skipped=tuple(sorted(skipped, key=lambda s: s.row)),
        columns=cols,
        rows=work["row"].to_numpy(dtype=np.int64),
    )


def _cells(data: Sequence[tuple[int, list[str]]], index: int) -> list[str]:
    return [cells[index] if index < len(cells) else "" for _, cells in data]


def _check_one_line(
    path: str | Path, data: Sequence[tuple[int, list[str]]], index: int, name: str, separator: str
) -> None:
    """Refuse a quoted cell that swallowed rows: a stray quote closed only rows later.

    A cell spanning lines is fine on its own (``"3\n"``); one whose later lines hold the separator
    has taken in records of the file.
    """
    for row, cells in data:
        if index < len(cells) and "\n" in cells[index] and separator in cells[index].split("\n", 1)[1]:
            lines = cells[index].count("\n") + 1
            raise InputError(
                f"a quoted cell runs over {lines} lines (a quote opened here is closed only "
                f"{lines - 1} row{'s' if lines > 2 else ''} later); close the quote on this row or remove it",
                file=path, row=row, column=name,
            )
