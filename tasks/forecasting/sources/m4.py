"""M4 competition files in: wide rows (``V1`` = id, then left-aligned values padded with empty cells).

A train file and, optionally, its test file land in the same long layout as every other source:
``series_id`` (str), ``timestamp`` (datetime64[s]), ``value`` (float64), sorted by series then time.

M4 publishes no dates, so the timestamps are **synthetic**: step ``i`` (0-based) of every series is
``SYNTHETIC_EPOCH + i`` steps of its frequency (hours, days, weeks of 7 days, month starts, quarter
starts, year starts), and the test part continues where the train part ends. They carry order and
spacing, so calendar checks and windowing work, but no real date: do not read calendar effects
(weekday, month) into them. The seconds unit keeps M4's longest yearly series (835 years) in range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.errors import InputError
from tasks.forecasting.sources import validation as v
from tasks.forecasting.sources.dialect import read_records
from tasks.forecasting.sources.tabular import SERIES_COLUMNS

SYNTHETIC_EPOCH = pd.Timestamp("2000-01-01")
PREFIXES = {"Y": "yearly", "Q": "quarterly", "M": "monthly", "W": "weekly", "D": "daily", "H": "hourly"}
# M4's season lengths (the ``frequency`` of its R ``ts`` objects): weekly and daily use 1, not
# 52 and 7. Its seasonality test, Naive2 and MASE all use these, so the official scores need them.
SEASON_LENGTHS = {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 1, "daily": 1, "hourly": 24}
HORIZONS = {"yearly": 6, "quarterly": 8, "monthly": 18, "weekly": 13, "daily": 14, "hourly": 48}
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"  # the form numbers.number accepts
_PLAIN_ROW = re.compile(rf"(?:{_NUMBER})(?:,{_NUMBER})*", re.ASCII)  # one match per row: C speed on M4's large files
_OFFSETS = {"hourly": "h", "daily": "D", "weekly": "7D", "monthly": "MS", "quarterly": "QS", "yearly": "YS"}


@dataclass(frozen=True)
class M4Data:
    """An M4 train file, and its test file when given, in the long layout."""

    train: pd.DataFrame  # series_id, timestamp, value; by series, then time
    test: pd.DataFrame | None  # the same columns; each series continues its train part
    frequency: str  # one of validation.FREQUENCIES
    season_length: int  # M4's (see SEASON_LENGTHS)
    horizon: int  # the test width when a test file is given, else M4's horizon for the frequency
    rows: dict[str, int] = field(default_factory=dict, compare=False)  # series id -> its row in the train file
    test_rows: dict[str, int] = field(default_factory=dict, compare=False)  # ... and in the test file


def synthetic_timestamps(frequency: str, start_step: int, n_steps: int) -> np.ndarray:
    """Make the synthetic timestamps of steps ``start_step .. start_step + n_steps - 1``.

    Args:
        frequency: one of :data:`tasks.forecasting.sources.validation.FREQUENCIES`.
        start_step: the first step's index from :data:`SYNTHETIC_EPOCH`.
        n_steps: how many.

    Returns:
        ``(n_steps,)`` ``datetime64[s]`` values.
    """
    v.check_choice(frequency, v.FREQUENCIES, "frequency")
    stamps = pd.date_range(SYNTHETIC_EPOCH, periods=start_step + n_steps, freq=_OFFSETS[frequency], unit="s")
    return stamps[start_step:].to_numpy()


def _row_values(path: str | Path, row: int, cells: list[str], header: list[str]) -> np.ndarray:
    """Parse one wide row's values, refusing holes, text and non-finite numbers."""
    body = [c.strip() for c in cells[1:]]
    n = len(body)
    while n and body[n - 1] == "":
        n -= 1
    body = body[:n]
    try:
        values = np.array(body, dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and np.all(np.isfinite(values)) and (not body or _PLAIN_ROW.fullmatch(",".join(body))):
        return values
    # The fast path failed: find the first bad cell to name it.
    for i, text in enumerate(body):
        name = header[i + 1] if i + 1 < len(header) else f"V{i + 2}"
        if text == "":
            raise InputError(
                "empty cell before the row's last value; M4 rows are left-aligned, padded only at the end",
                file=path,
                row=row,
                column=name,
            )
        try:
            v.number(text)
        except ValueError as exc:
            raise InputError(str(exc), file=path, row=row, column=name, value=text) from None
    raise AssertionError("unreachable: a row that failed to parse has a bad cell")


def read_m4_wide(path: str | Path) -> dict[str, tuple[int, np.ndarray]]:
    """Read one M4 wide file.

    Args:
        path: a file such as ``Hourly-train.csv``.

    Returns:
        Series id to ``(editor row, (time,) values)``, in file order.

    Raises:
        InputError: the file is missing, empty or binary, its first column is not ``V1``, an id is
            missing or repeated, a row has no values, a hole, text or a non-finite number.
    """
    text = v.check_readable(path)
    records = [(row, cells) for row, cells in read_records(text, ",", path) if not v.is_blank(cells)]
    if not records:
        raise InputError("file is empty", file=path)
    header_row, header_cells = records[0]
    header = [c.strip() for c in header_cells]
    if header[0] != "V1":
        raise InputError(
            f"not an M4 wide file: the first column must be 'V1' (the series id), found {header[0]!r}",
            file=path,
            row=header_row,
        )
    if len(records) == 1:
        raise InputError("no data rows below the header", file=path)
    series: dict[str, tuple[int, np.ndarray]] = {}
    for row, cells in records[1:]:
        sid = cells[0].strip()
        if not sid:
            raise InputError("missing series id", file=path, row=row, column="V1")
        if sid in series:
            raise InputError(
                f"series id appears twice: row {series[sid][0]} has it too", file=path, row=row, column="V1", value=sid
            )
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            raise InputError(
                f"row has {len(cells)} cells but the header has {len(header)} columns (V1..V{len(header)}); "
                "an M4 row is never longer than its header",
                file=path,
                row=row,
                column="V1",
                value=sid,
            )
        values = _row_values(path, row, cells, header)
        if values.size == 0:
            raise InputError("series has no values", file=path, row=row, column="V1", value=sid)
        series[sid] = (row, values)
    return series


def _long(series: dict[str, np.ndarray], frequency: str, offsets: dict[str, int]) -> pd.DataFrame:
    ids, stamps, values = [], [], []
    for sid in sorted(series):
        vals = series[sid]
        ids.append(np.full(vals.size, sid, dtype=object))
        stamps.append(synthetic_timestamps(frequency, offsets.get(sid, 0), vals.size))
        values.append(vals)
    return pd.DataFrame(
        {
            "series_id": pd.array(np.concatenate(ids), dtype="str"),
            "timestamp": np.concatenate(stamps).astype("datetime64[s]"),
            "value": np.concatenate(values).astype(np.float64),
        },
        columns=list(SERIES_COLUMNS),
    )


def _frequency_from_ids(path: str | Path, rows: dict[str, tuple[int, np.ndarray]]) -> str:
    letters = {sid[0].upper() for sid in rows}
    if len(letters) == 1 and next(iter(letters)) in PREFIXES:
        return PREFIXES[letters.pop()]
    sid, (row, _) = next(iter(rows.items()))
    raise InputError(
        f"cannot infer the frequency from the ids (M4 ids start with one of {', '.join(PREFIXES)}, all "
        "the same letter); pass frequency=",
        file=path,
        row=row,
        column="V1",
        value=sid,
    )


def read_m4(
    train_path: str | Path,
    test_path: str | Path | None = None,
    *,
    frequency: str | None = None,
    min_length: int = 1,
) -> M4Data:
    """Read an M4 train file, and its test file, into the long layout with synthetic timestamps.

    Args:
        train_path: e.g. ``Hourly-train.csv``.
        test_path: e.g. ``Hourly-test.csv``; its series must be exactly the train file's, each
            with the same number of values (the horizon).
        frequency: one of ``hourly, daily, weekly, monthly, quarterly, yearly``; None reads it from
            the ids' first letter (``H1`` is hourly).
        min_length: the fewest training values a series may have.

    Returns:
        The train (and test) series, the frequency, M4's season length and the horizon.

    Raises:
        InputError: either file breaks a rule; one line naming the file, row, column and rule.
    """
    if frequency is not None:
        v.check_choice(frequency, v.FREQUENCIES, "frequency")
    if min_length < 1:
        raise InputError("must be >= 1", key="min_length", value=min_length)
    train_rows = read_m4_wide(train_path)
    freq = frequency or _frequency_from_ids(train_path, train_rows)
    for sid, (row, values) in train_rows.items():
        if values.size < min_length:
            raise InputError(
                f"series {sid!r} has {values.size} values; min_length={min_length} needs at least {min_length}",
                file=train_path,
                row=row,
                column="V1",
            )
    train = {sid: values for sid, (_, values) in train_rows.items()}
    test_frame = None
    horizon = HORIZONS[freq]
    if test_path is not None:
        test_rows = read_m4_wide(test_path)
        for sid, (row, _) in test_rows.items():
            if sid not in train:
                raise InputError("series is not in the train file", file=test_path, row=row, column="V1", value=sid)
        absent = [sid for sid in train if sid not in test_rows]
        if absent:
            raise InputError(
                f"series {absent[0]!r} (and {len(absent) - 1} more) of the train file has no test row",
                file=test_path,
            )
        widths = {sid: values.size for sid, (_, values) in test_rows.items()}
        horizon = max(widths.values())
        for sid, (row, values) in test_rows.items():
            if values.size != horizon:
                raise InputError(
                    f"series {sid!r} has {values.size} test values, others {horizon}; every series needs the "
                    "same horizon",
                    file=test_path,
                    row=row,
                    column="V1",
                )
        test = {sid: values for sid, (_, values) in test_rows.items()}
        test_frame = _long(test, freq, {sid: values.size for sid, values in train.items()})
    return M4Data(
        train=_long(train, freq, {}),
        test=test_frame,
        frequency=freq,
        season_length=SEASON_LENGTHS[freq],
        horizon=horizon,
        rows={sid: row for sid, (row, _) in train_rows.items()},
        test_rows={sid: row for sid, (row, _) in test_rows.items()} if test_path is not None else {},
    )
