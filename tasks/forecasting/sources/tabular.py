"""CSV series in: one series (``date,value``) or many in long format (``series_id,date,value``).

Whatever the file, the result is one long frame ``series_id`` (str), ``timestamp`` (datetime64[s]),
``value`` (float64), sorted by series then time, plus the frequency and the rows that were skipped
(empty rows, a text footer) with the reason, for the caller to log. Every rule the file breaks is an
:class:`tasks.errors.InputError` from :mod:`.validation`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
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
    codec = dialect.detect_encoding(path, v.open_head(path), encoding)
    settings = _Settings(date_column, value_column, id_column, series_id, frequency, missing, min_length,
                         date_format, separator, decimal, day_first, tuple(ignore_columns))
    try:
        return _read(path, codec, settings)
    except dialect.Undecodable as exc:
        if encoding is not None or codec != "utf-8":
            raise exc.error(path, codec, encoding is not None) from None
    # Not UTF-8: Windows-1252 is Latin-1 with printable characters where Latin-1 has controls; both
    # decode (almost) every byte, so a stray accented letter in a title never stops an ASCII file.
    try:
        return _read(path, "cp1252", settings)
    except dialect.Undecodable:
        return _read(path, "latin-1", settings)


CHUNK_ROWS = 100_000  # data rows parsed and checked at a time: memory holds one chunk's cells (~40 MB)


@dataclass(frozen=True)
class _Settings:
    date_column: str | None
    value_column: str | None
    id_column: str | None
    series_id: str | None
    frequency: str | None
    missing: str
    min_length: int
    date_format: str | None
    separator: str | None
    decimal: str | None
    day_first: bool | None
    ignore_columns: tuple[str, ...]


def _read(path: str | Path, codec: str, s: _Settings) -> SeriesTable:
    """Stream the file in chunks of :data:`CHUNK_ROWS` records; keep only typed columns of each."""
    lines = dialect.read_lines(path, codec)
    head = list(itertools.islice(lines, dialect.SNIFF_LINES * 4))
    found = dialect.sniff("".join(head), s.separator, s.decimal)
    records = dialect.iter_records(itertools.chain(head, lines), found.separator, path)
    skipped: list[SkippedRow] = []
    chunks = _chunks(records, skipped)
    header_row, header_cells = next(chunks, [(0, [])])[0]
    if header_row == 0:
        raise InputError("file is empty", file=path)
    full_header = v.check_header(path, header_cells, header_row)
    for name in s.ignore_columns:
        v.check_column(path, name, full_header, "ignore_columns", header_row)
    header = [h for h in full_header if h not in s.ignore_columns]
    pending = [next(chunks, [])]  # the first chunk, held only until the loop takes it
    cols = resolve_columns(path, header, header_row, s.date_column, s.value_column, s.id_column,
                           lambda name: _cells(pending[0][:200], full_header.index(name)))
    di, vi = full_header.index(cols["date"]), full_header.index(cols["value"])
    ii = full_header.index(cols["id"]) if cols["id"] is not None else None
    columns = _Columns(s.series_id if s.series_id is not None else Path(path).stem)
    dates: tuple[bool | None, str | None] | None = None
    held: list[tuple[int, list[str]]] = []  # rows at the end of a chunk that look like a footer, so far
    for chunk in itertools.chain((pending.pop(),), chunks):
        data = held + chunk
        del chunk
        footer_start = len(data)
        while footer_start > 0 and v.footer_like(data[footer_start - 1][1], di, vi):
            footer_start -= 1
        data, held = data[:footer_start], data[footer_start:]
        if not data:
            continue
        _check_cells(path, data, len(full_header), (di, vi, ii), full_header, found.separator)
        rows = np.array([row for row, _ in data], dtype=np.int64)
        date_text = [c.strip() for c in _cells(data, di)]
        if dates is None:
            dates = v.settle_dates(path, date_text, cols["date"], s.date_format, s.day_first)
        timestamps = v.parse_dates(path, date_text, rows, cols["date"], s.date_format, dates[0], dates[1])
        values = v.parse_values(path, _cells(data, vi), rows, cols["value"], found.decimal)
        ids = None
        if ii is not None:
            ids = [c.strip() for c in _cells(data, ii)]
            empty = next((k for k, sid in enumerate(ids) if not sid), None)
            if empty is not None:
                raise InputError("missing series id", file=path, row=int(rows[empty]), column=cols["id"])
        columns.add(ids, timestamps.to_numpy(), values, rows)
        del data, date_text, ids  # before the next chunk is read: one chunk's cells in memory at a time
    for row, cells in held:
        skipped.append(SkippedRow(row, "text after the last data row (a footer)", v.shown(cells)))
    if not columns.rows:
        raise InputError("no data rows below the header", file=path)

    work = columns.frame()
    del columns
    # The date cells as written are read back from the file for a message only, never kept.
    text_of = functools.partial(_date_cell, path, codec, found.separator, di)
    v.check_duplicates(path, work, cols["date"], text_of)
    freq = s.frequency or v.infer_frequency(path, work, cols["date"], text_of)
    v.check_calendar(path, work, freq, cols["date"], text_of)
    work = v.fill_missing(path, work, s.missing, cols["value"])
    v.check_length(path, work, s.min_length, cols["value"])

    ids = work["series_id"].array  # a Categorical: text taken once per row from its categories, no object array
    frame = pd.DataFrame({"series_id": pd.array(ids.categories, dtype="str").take(ids.codes), "timestamp": work["timestamp"],
                          "value": work["value"]}, copy=False)
    return SeriesTable(
        frame=frame,
        frequency=freq,
        season_length=v.SEASON_LENGTHS[freq],
        skipped=tuple(sorted(skipped, key=lambda r: r.row)),
        columns=cols,
        rows=work["row"].to_numpy(dtype=np.int64),
    )


def _chunks(records: Iterator[tuple[int, list[str]]], skipped: list[SkippedRow]
            ) -> Iterator[list[tuple[int, list[str]]]]:
    """The non-blank records: the first (the header) alone, then chunks of :data:`CHUNK_ROWS`; blank ones skipped."""
    size, chunk = 1, []
    for row, cells in records:
        if not (cells and cells[0].strip()) and v.is_blank(cells):
            skipped.append(SkippedRow(row, "empty row", v.shown(cells)))
            continue
        chunk.append((row, cells))
        if len(chunk) == size:
            yield chunk
            size, chunk = CHUNK_ROWS, []
    if chunk:
        yield chunk


class _Columns:
    """The typed columns of the rows read so far: ids as codes, timestamps, values, rows (~28 bytes a row)."""

    def __init__(self, single_id: str) -> None:
        self.single_id = single_id
        self.codes: dict[str, int] = {}
        self.parts: dict[str, list] = {"id": [], "timestamp": [], "value": [], "row": []}
        self.rows = 0

    def add(self, ids: list[str] | None, timestamps: np.ndarray, values: np.ndarray, rows: np.ndarray) -> None:
        if ids is None:
            code = self.codes.setdefault(self.single_id, 0)
            self.parts["id"].append(np.full(len(rows), code, dtype=np.int32))
        else:
            local, uniques = pd.factorize(np.asarray(ids, dtype=object))
            known = np.array([self.codes.setdefault(u, len(self.codes)) for u in uniques], dtype=np.int32)
            self.parts["id"].append(known[local])
        self.parts["timestamp"].append(timestamps.astype("datetime64[s]"))
        self.parts["value"].append(values)
        self.parts["row"].append(rows)
        self.rows += len(rows)

    def frame(self) -> pd.DataFrame:
        """The working frame of :mod:`.validation` (without ``date_text``), sorted by series (as text), time, row."""
        names = np.array(list(self.codes), dtype=object)
        order = np.argsort(names.astype(str), kind="stable")
        rank = np.empty(len(names), dtype=np.int32)
        rank[order] = np.arange(len(names), dtype=np.int32)
        codes = rank[np.concatenate(self.parts.pop("id"))]
        stamps = np.concatenate(self.parts.pop("timestamp"))
        rows = np.concatenate(self.parts.pop("row"))
        work = pd.DataFrame({
            "series_id": pd.Categorical.from_codes(codes, categories=names[order]),
            "timestamp": stamps,
            "value": np.concatenate(self.parts.pop("value")),
            "row": rows,
        }, copy=False)
        same = codes[1:] == codes[:-1]
        if bool(np.all((codes[1:] > codes[:-1]) | (same & (stamps[1:] >= stamps[:-1])))):
            return work  # already in order, as most files are: no copy
        return work.take(np.lexsort((rows, stamps, codes))).reset_index(drop=True)


def _date_cell(path: str | Path, codec: str, separator: str, index: int, row: int) -> str:
    """The date cell of one row of the file, as written (stripped): read again, for a message."""
    for at, cells in dialect.iter_records(dialect.read_lines(path, codec), separator, path):
        if at == row:
            return cells[index].strip() if index < len(cells) else ""
    return ""


def _check_cells(path: str | Path, data: Sequence[tuple[int, list[str]]], width: int,
                 used: Sequence[int | None], header: Sequence[str], separator: str) -> None:
    """Refuse a row with more filled cells than the header has columns, then a quoted cell that swallowed rows."""
    for row, cells in data:
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            raise InputError(f"row has {len(cells)} cells but the header has {width} columns", file=path, row=row)
    rows = np.array([row for row, _ in data], dtype=np.int64)
    # Only a record followed by a jump of rows (or a chunk's last) can span lines: the rest are one line each.
    spans = np.flatnonzero(np.diff(rows, append=rows[-1] + 2) > 1)
    for index in used:
        if index is not None:
            _check_one_line(path, [data[int(k)] for k in spans], index, header[index], separator)


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
