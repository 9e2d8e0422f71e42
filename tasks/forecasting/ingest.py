"""Every source kind into the one long layout (``series_id, timestamp, value``), and the size rules.

:func:`load_source` reads a CSV or M4 source, validating the file at the edge
(:class:`tasks.errors.InputError`, one line naming the file, row, column and rule); :func:`check_sizes`
then checks what only the data's size can tell (a series too short for the window, the horizon and
the backtest folds). Both are pure, so the CLI runs them before Prefect or MLflow start, and the
flow's ingest step runs them again before any run opens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.errors import InputError
from tasks.forecasting.config import (
    CsvSource,
    ForecastConfig,
    M4Source,
    check_holdout_fits,
)
from tasks.forecasting.sources import m4, tabular

SERIES_COLUMNS = tabular.SERIES_COLUMNS


@dataclass(frozen=True)
class LoadedSeries:
    """A source read into the long layout, with what the rest of the flow needs to know about it."""

    frame: pd.DataFrame  # series_id (str), timestamp (datetime64[s]), value (float64); by series, then time
    frequency: str  # hourly ... yearly
    season_length: int  # steps per season: the calendar's (CSV) or M4's (M4)
    skipped: tuple[str, ...] = ()  # rows of the file not read as data: "file, row N: reason: text"
    test_steps: int = 0  # steps per series that came from a separate test file (M4 --test), else 0
    inputs: tuple[str, ...] = ()  # the files read
    # Where a row of the frame was read: index -> (file, editor row, column), for messages.
    locate: Callable[[int], tuple[str, int | None, str | None]] | None = field(default=None, compare=False)

    @property
    def n_series(self) -> int:
        """Count the series."""
        return int(self.frame["series_id"].nunique())

    def lengths(self) -> pd.Series:
        """Steps per series, by id."""
        return self.frame.groupby("series_id", sort=True).size()


# The one source read and kept by load_source(keep=True), with its files' stamps, until the next call takes it.
_kept: list[tuple[CsvSource | M4Source, tuple, LoadedSeries]] = []


def _stamps(source: CsvSource | M4Source) -> tuple:
    """Size and modification time of each input file: a file changed since it was read is read again."""
    files = [source.path] + ([source.test_path] if isinstance(source, M4Source) and source.test_path else [])
    try:
        return tuple((f, (s := Path(f).stat()).st_size, s.st_mtime_ns) for f in files)
    except OSError:
        return ()


def load_source(source: CsvSource | M4Source, keep: bool = False) -> LoadedSeries:
    """Read a source into the long layout.

    A file is read once per process: the CLI's pre-flight reads it with ``keep=True`` and the flow's
    ingest, in the same process, takes that reading (when the source and its files' size and
    modification time are unchanged) instead of reading the file again.

    Args:
        source: the config's ``source`` section.
        keep: hold the result for the next call (one source at a time); :func:`drop_kept` lets it go.

    Raises:
        InputError: a file breaks a rule (missing, empty, binary, no header, an unknown column,
            unparseable dates or values, duplicates, gaps, missing values, non-finite values, a
            frequency that cannot be inferred).
    """
    stamps = _stamps(source)
    held = _kept.pop() if _kept else None
    if held is not None and held[0] == source and held[1] == stamps and stamps:
        loaded = held[2]
    else:
        del held
        loaded = _read(source)
    if keep:
        _kept.append((source, stamps, loaded))
    return loaded


def drop_kept() -> None:
    """Let go of a source kept by :func:`load_source` and not taken (the flow's ingest was cached)."""
    _kept.clear()


def _read(source: CsvSource | M4Source) -> LoadedSeries:
    if isinstance(source, CsvSource):
        table = tabular.read_series_csv(
            source.path, date_column=source.date_column, value_column=source.value_column,
            id_column=source.id_column, frequency=source.frequency, missing=source.missing,
            date_format=source.date_format, separator=source.separator, decimal=source.decimal,
            encoding=source.encoding, day_first=source.day_first, ignore_columns=source.ignore_columns,
        )
        skipped = tuple(f"{source.path}, row {s.row}: {s.reason}: {s.text!r}" for s in table.skipped)
        rows, column = table.rows, table.columns.get("value")

        def locate_csv(index: int) -> tuple[str, int | None, str | None]:
            return source.path, (int(rows[index]) if rows is not None else None), column

        return LoadedSeries(table.frame, table.frequency, table.season_length, skipped, 0, (source.path,), locate_csv)
    data = m4.read_m4(source.path, source.test_path, frequency=source.frequency)
    frame = data.train
    test_steps = 0
    if data.test is not None:
        frame = pd.concat([data.train, data.test], ignore_index=True)
        frame = frame.sort_values(["series_id", "timestamp"], kind="stable", ignore_index=True)
        test_steps = data.horizon
    inputs = (source.path,) + ((source.test_path,) if source.test_path else ())
    return LoadedSeries(frame, data.frequency, data.season_length, (), test_steps, inputs, _m4_locator(source, data, frame))


def _m4_locator(source: M4Source, data: m4.M4Data, frame: pd.DataFrame) -> Callable[[int], tuple[str, int | None, str]]:
    """Map a row of the long frame back to its M4 file, row and ``V`` column."""
    ids = frame["series_id"].to_numpy()
    starts = {sid: int(i) for sid, i in zip(*np.unique(ids, return_index=True))}
    train_lengths = data.train.groupby("series_id", sort=False).size()

    def locate(index: int) -> tuple[str, int | None, str]:
        sid = str(ids[index])
        step = index - starts[sid]
        if step < int(train_lengths[sid]):
            return source.path, data.rows.get(sid), f"V{step + 2}"
        return str(source.test_path), data.test_rows.get(sid), f"V{step - int(train_lengths[sid]) + 2}"

    return locate


def check_sizes(
    cfg: ForecastConfig, shortest_series: str, shortest_length: int, test_steps: int = 0, inputs: tuple[str, ...] = ()
) -> None:
    """Check the rules that need the data's size, for the held-out horizon.

    Args:
        cfg: the config.
        shortest_series: the id of the shortest series; ``shortest_length`` its steps.
        test_steps: steps per series from a separate test file (M4), 0 if none.
        inputs: the files read, for the message.

    Raises:
        InputError: an M4 test file's width is not ``window.horizon``, or a series is too short for
            the window, the horizon, the validation part and the backtest folds (the message names
            the file, the series and every setting involved).
    """
    if test_steps and test_steps != cfg.window.horizon:
        raise InputError(
            f"holds {test_steps} steps per series but window.horizon = {cfg.window.horizon}; the test file is "
            f"the held-out horizon: pass --horizon {test_steps}",
            file=inputs[-1] if inputs else None,
        )
    try:
        what = f"series {shortest_series!r}" + (" (train and test rows together)" if test_steps else "")
        check_holdout_fits(cfg, shortest_length, what)
    except ValueError as exc:
        raise InputError(str(exc), file=inputs[0] if inputs else None) from None


def check_loaded(cfg: ForecastConfig, loaded: LoadedSeries) -> None:
    """:func:`check_sizes` and :func:`check_preprocessing` on a loaded source."""
    lengths = loaded.lengths()
    shortest = str(lengths.idxmin())
    check_sizes(cfg, shortest, int(lengths[shortest]), loaded.test_steps, loaded.inputs)
    check_preprocessing(cfg, loaded)


def check_preprocessing(cfg: ForecastConfig, loaded: LoadedSeries) -> None:
    """Refuse values the preprocessing cannot take, right after ingest (before any run opens).

    ``preprocess.log = true`` takes the log of every value (of each training part, and of the
    history a served model is given), so every value must be positive.

    Raises:
        InputError: naming the file, row, column, series and the first value <= 0.
    """
    check_log_values(cfg, loaded.frame, loaded.inputs, loaded.locate)


def check_log_values(cfg: ForecastConfig, frame: pd.DataFrame, inputs: tuple[str, ...] = (),
                     locate: Callable[[int], tuple[str | None, int | None, str | None]] | None = None) -> None:
    """Refuse a value <= 0 under ``preprocess.log = true`` in ingested rows (``series_id, timestamp, value``).

    Args:
        frame: the series, as ingest stores them.
        inputs: the files read, for the message.
        locate: row index -> (file, row, column) of the input, where the source can say; without it
            the message names the series and the timestamp.

    Raises:
        InputError: naming the file, row (or timestamp), column, series and the first value <= 0.
    """
    if not cfg.preprocess.log:
        return
    values = frame["value"].to_numpy()
    bad = np.flatnonzero(~(values > 0))
    if not bad.size:
        return
    index = int(bad[0])
    sid = frame["series_id"].iloc[index]
    file, row, column = locate(index) if locate else (inputs[0] if inputs else None, None, None)
    when = "" if row is not None else f" at {pd.Timestamp(frame['timestamp'].iloc[index]).isoformat(sep=' ')}"
    count = int(np.sum(frame["series_id"].to_numpy()[bad] == sid))
    raise InputError(
        f"series {sid!r} holds {values[index]:g}{when}{f' (and {count - 1} more values <= 0)' if count > 1 else ''}: "
        "preprocess.log = true needs every value > 0; set preprocess.log = false, or shift the series above zero",
        file=file, row=row, column=column,
    )


def subject(source: CsvSource | M4Source) -> str:
    """A short name for what is forecast, for run and model names: the file's stem.

    Only letters, digits, ``_``, ``.`` and ``-`` are kept (at most 60), so it is safe in a logged
    model's name; it is never used as a path.
    """
    stem = "".join(ch if ch.isalnum() or ch in "_.-" else "-" for ch in Path(source.path).stem).strip("-.")
    return stem[:60] or source.kind
