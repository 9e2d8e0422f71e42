"""CSV series in: one series (``date,value``) or many in long format (``series_id,date,value``).

Whatever the file, the result is one long frame ``series_id`` (str), ``timestamp`` (datetime64[s]),
``value`` (float64), sorted by series then time, plus the frequency and the rows that were skipped
(empty rows, a text footer) with the reason, for the caller to log. Every rule the file breaks is an
:class:`tasks.errors.InputError` from :mod:`.validation`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.errors import InputError
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

    @property
    def n_series(self) -> int:
        """Count the series in the table."""
        return int(self.frame["series_id"].nunique())


def read_records(text: str) -> list[tuple[int, list[str]]]:
    """Split CSV text into records, each with the editor row it starts on.

    Args:
        text: the whole file.

    Returns:
        ``(row, cells)`` per record, blank lines included (as empty or all-empty cell lists); a
        quoted cell spanning lines keeps the row it starts on.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    line = 0
    for cells in reader:
        records.append((line + 1, cells))
        line = reader.line_num
    return records


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


def resolve_columns(
    path: str | Path,
    header: list[str],
    header_row: int,
    date_column: str | None,
    value_column: str | None,
    id_column: str | None,
) -> dict[str, str | None]:
    """Name the date, value and (for many series) id columns, from the arguments or the header.

    Inference, for a role the caller left as None: a header with two columns is ``date,value``
    (the date column is the one named like a date, else the first); with more, a role is read
    from a column named like it (``date``/``month``/``ds``..., ``series_id``/``id``...,
    ``value``/``y``/``sales``...) or from the one column left over. Anything else is ambiguous
    and refused, naming the argument that settles it.

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
            ident = rest[0]
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
    text = v.check_readable(path)
    skipped: list[SkippedRow] = []
    records = []
    for row, cells in read_records(text):
        if v.is_blank(cells):
            skipped.append(SkippedRow(row, "empty row", v.shown(cells)))
        else:
            records.append((row, cells))
    if not records:
        raise InputError("file is empty", file=path)
    header_row, header_cells = records[0]
    header = v.check_header(path, header_cells, header_row)
    cols = resolve_columns(path, header, header_row, date_column, value_column, id_column)
    di, vi = header.index(cols["date"]), header.index(cols["value"])
    ii = header.index(cols["id"]) if cols["id"] is not None else None

    data = records[1:]
    footer_start = len(data)
    while footer_start > 0 and v.footer_like(data[footer_start - 1][1], di, vi):
        footer_start -= 1
    for row, cells in data[footer_start:]:
        skipped.append(SkippedRow(row, "text after the last data row (a footer)", v.shown(cells)))
    data = data[:footer_start]
    if not data:
        raise InputError("no data rows below the header", file=path)

    width = len(header)
    for row, cells in data:
        extra = [c for c in cells[width:] if c.strip()]
        if extra:
            raise InputError(
                f"row has {len(cells)} cells but the header has {width} columns", file=path, row=row
            )
    rows = np.array([row for row, _ in data], dtype=np.int64)

    def column(index: int) -> list[str]:
        return [cells[index] if index < len(cells) else "" for _, cells in data]

    date_text = [c.strip() for c in column(di)]
    timestamps = v.parse_dates(path, date_text, rows, cols["date"], date_format)
    values = v.parse_values(path, column(vi), rows, cols["value"])
    if ii is None:
        ids = np.full(len(data), series_id if series_id is not None else Path(path).stem, dtype=object)
    else:
        ids = np.array([c.strip() for c in column(ii)], dtype=object)
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
    )
