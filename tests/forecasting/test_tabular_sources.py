"""CSV sources: one series or many, columns and frequency inferred, trailing junk skipped and reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.forecasting.sources.tabular import SkippedRow, read_series_csv

DATA = Path(__file__).resolve().parents[2] / "data"


def _write(tmp_path: Path, text: str, name: str = "sales.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_one_series_lands_in_the_long_layout(tmp_path):
    path = _write(tmp_path, "DATE,SALE\n1992-01-01,3459\n1992-02-01,3458\n1992-03-01,4002\n")
    table = read_series_csv(path)
    frame = table.frame
    assert list(frame.columns) == ["series_id", "timestamp", "value"]
    assert frame["series_id"].tolist() == ["sales"] * 3
    assert frame["timestamp"].dtype == np.dtype("datetime64[s]")
    assert frame["value"].dtype == np.float64
    assert frame["timestamp"].tolist() == list(pd.to_datetime(["1992-01-01", "1992-02-01", "1992-03-01"]))
    assert frame["value"].tolist() == [3459.0, 3458.0, 4002.0]
    assert (table.frequency, table.season_length) == ("monthly", 12)
    assert table.columns == {"date": "DATE", "value": "SALE", "id": None}
    assert table.skipped == ()


def test_champagne_like_footer_is_skipped_and_reported(tmp_path):
    text = (
        "Month,Perrin Freres monthly champagne sales millions ?64-?72\r\n"
        "1964-01,2815\r\n1964-02,2672\r\n1964-03,2755\r\n"
        ",\r\n"
        "Perrin Freres monthly champagne sales millions ?64-?72,\r\n"
    )
    table = read_series_csv(_write(tmp_path, text, "champagne.csv"))
    assert table.frame["value"].tolist() == [2815.0, 2672.0, 2755.0]
    assert table.skipped == (
        SkippedRow(5, "empty row", ","),
        SkippedRow(6, "text after the last data row (a footer)", "Perrin Freres monthly champagne sales millions ?64-?72,"),
    )


def test_a_broken_last_row_is_an_error_not_a_footer(tmp_path):
    from tasks.errors import InputError

    path = _write(tmp_path, "month,value\n2020-01,1\n2020-02,2\n2020-13,\n")
    with pytest.raises(InputError, match=r"row 4, column 'month': '2020-13': not a date"):
        read_series_csv(path)


def test_many_series_in_long_format_sorted_by_series_then_time(tmp_path):
    text = "series_id,date,value\nb,2020-01-02,20\na,2020-01-02,2\nb,2020-01-01,10\na,2020-01-01,1\na,2020-01-03,3\n"
    table = read_series_csv(_write(tmp_path, text))
    frame = table.frame
    assert frame["series_id"].tolist() == ["a", "a", "a", "b", "b"]
    assert frame["value"].tolist() == [1.0, 2.0, 3.0, 10.0, 20.0]
    assert table.frequency == "daily" and table.n_series == 2


def test_columns_by_argument_with_extra_columns_ignored(tmp_path):
    text = "store,week_ending,units,price\nx,2024-01-07,5,1.0\nx,2024-01-14,6,1.1\nx,2024-01-21,7,1.2\n"
    table = read_series_csv(_write(tmp_path, text), id_column="store", date_column="week_ending", value_column="units")
    assert table.frame["value"].tolist() == [5.0, 6.0, 7.0]
    assert table.frequency == "weekly" and table.season_length == 52


def test_value_column_named_and_id_left_over(tmp_path):
    text = "shop,date,units\nx,2024-01-01,5\nx,2024-01-02,6\n"
    table = read_series_csv(_write(tmp_path, text), value_column="units")
    assert table.columns == {"date": "date", "value": "units", "id": "shop"}


@pytest.mark.parametrize(
    ("dates", "frequency", "season"),
    [
        (["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00"], "hourly", 24),
        (["2024-01-01", "2024-01-02", "2024-01-03"], "daily", 7),
        (["2024-01-01", "2024-01-08", "2024-01-15"], "weekly", 52),
        (["2024-01-31", "2024-02-29", "2024-03-31"], "monthly", 12),
        (["2024-01-01", "2024-04-01", "2024-07-01"], "quarterly", 4),
        (["2021", "2022", "2023"], "yearly", 1),
    ],
)
def test_frequency_inferred(tmp_path, dates, frequency, season):
    text = "date,value\n" + "".join(f"{d},{i}\n" for i, d in enumerate(dates))
    table = read_series_csv(_write(tmp_path, text))
    assert (table.frequency, table.season_length) == (frequency, season)


def test_given_frequency_wins(tmp_path):
    text = "date,value\n2024-01-01,1\n2024-02-01,2\n"
    assert read_series_csv(_write(tmp_path, text), frequency="monthly").frequency == "monthly"


def test_fred_missing_marker_and_byte_order_mark(tmp_path):
    path = tmp_path / "fred.csv"
    path.write_bytes("\ufeffDATE,SALE\n1992-01-01,1\n1992-02-01,.\n1992-03-01,3\n".encode("utf-8"))
    table = read_series_csv(path, missing="interpolate", series_id="alcohol")
    assert table.columns["date"] == "DATE"
    assert table.frame["value"].tolist() == [1.0, 2.0, 3.0]
    assert table.frame["series_id"].unique().tolist() == ["alcohol"]


@pytest.mark.parametrize(("name", "rows", "first", "last"), [
    ("monthly-milk.csv", 168, 589.0, 843.0),
    ("alcohol-sales.csv", 325, 3459.0, 10718.0),
])
def test_shipped_defaults_read_cleanly(name, rows, first, last):
    table = read_series_csv(DATA / name)
    assert len(table.frame) == rows and table.frequency == "monthly"
    assert table.frame["value"].iloc[0] == first and table.frame["value"].iloc[-1] == last
