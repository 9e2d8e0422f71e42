"""Real spreadsheet exports: separators, decimal marks, encodings, day-first dates, extra columns,
broken quotes and number forms no CSV writer emits (issue 23, items 7 and 9)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tasks.errors import InputError
from tasks.forecasting.sources.m4 import read_m4_wide
from tasks.forecasting.sources.tabular import read_series_csv

DAYS = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(40)]


def _write(tmp_path: Path, text: str, name: str = "export.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _error(path: Path, **kwargs) -> str:
    with pytest.raises(InputError) as caught:
        read_series_csv(path, **kwargs)
    return str(caught.value)


def test_a_european_export_is_read_with_its_separator_and_decimal_comma(tmp_path):
    rows = "".join(f"{d:%d.%m.%Y};{i},5\n" for i, d in enumerate(DAYS))
    table = read_series_csv(_write(tmp_path, "Datum;Umsatz\n" + rows))
    assert table.columns == {"date": "Datum", "value": "Umsatz", "id": None}
    assert table.frequency == "daily"
    assert table.frame["value"].tolist()[:3] == [0.5, 1.5, 2.5]
    assert table.frame["timestamp"].iloc[12] == dt.datetime(2020, 1, 13)


@pytest.mark.parametrize(("separator", "decimal", "cell", "expected"), [
    ("\t", None, "1234.5", 1234.5),
    ("|", None, "7", 7.0),
    (";", None, "1.234,5", 1234.5),
    (";", ",", "-0,25", -0.25),
    (";", ".", "3.5", 3.5),
])
def test_separators_and_decimal_marks_detected_or_set(tmp_path, separator, decimal, cell, expected):
    text = f"date{separator}value\n" + "".join(f"2020-{m:02d}-01{separator}{cell}\n" for m in range(1, 13))
    kwargs = {"decimal": decimal} if decimal else {}
    table = read_series_csv(_write(tmp_path, text), **kwargs)
    assert table.frame["value"].tolist() == [expected] * 12


def test_a_separator_set_in_the_config_wins(tmp_path):
    text = "date;value\n" + "".join(f"2020-{m:02d}-01;{m}\n" for m in range(1, 13))
    with pytest.raises(InputError, match="cannot tell which column holds the dates among 'date;value'"):
        read_series_csv(_write(tmp_path, text), separator=",")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252"])
def test_encodings_detected(tmp_path, encoding):
    text = "Monat,Umsatz in £ (Müller)\n" + "".join(f"2020-{m:02d},{m}\n" for m in range(1, 13))
    table = read_series_csv(_write(tmp_path, text, encoding=encoding))
    assert table.columns["value"] == "Umsatz in £ (Müller)"
    assert table.frame["value"].tolist() == [float(m) for m in range(1, 13)]


def test_utf16_is_not_called_binary_but_a_real_binary_file_is(tmp_path):
    text = "date,value\n" + "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 13))
    assert read_series_csv(_write(tmp_path, text, "u16.csv", encoding="utf-16")).frame.shape == (12, 3)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"date,value\n\x00\x01\x02\x03garbage")
    assert _error(binary).endswith("binary file (a NUL byte at offset 11); expected CSV text")


def test_an_encoding_that_does_not_fit_names_the_byte(tmp_path):
    path = _write(tmp_path, "date,value\n2020-01-01,1\n2020-02-01,2\n", encoding="utf-16")
    assert _error(path, encoding="utf-8") == (
        f"{path}: not utf-8 text: byte 0 (b'\\xff') does not decode; set source.encoding to the file's encoding, "
        "or off to detect it")


def test_day_first_dates_are_detected_not_a_353_day_gap(tmp_path):
    path = _write(tmp_path, "date,value\n" + "".join(f"{d:%d/%m/%Y},{i}\n" for i, d in enumerate(DAYS)))
    table = read_series_csv(path)
    assert table.frequency == "daily"
    assert table.frame["timestamp"].iloc[1] == dt.datetime(2020, 1, 2)
    assert table.frame["timestamp"].iloc[-1] == dt.datetime(2020, 2, 9)


def test_day_first_monthly_dates_are_told_by_their_regular_calendar(tmp_path):
    months = [dt.date(2020 + k // 12, k % 12 + 1, 1) for k in range(24)]
    path = _write(tmp_path, "date,value\n" + "".join(f"{d:%d/%m/%Y},{i}\n" for i, d in enumerate(months)))
    table = read_series_csv(path)
    assert table.frequency == "monthly"
    assert table.frame["timestamp"].iloc[1] == dt.datetime(2020, 2, 1)


def test_ambiguous_dates_ask_for_day_first_and_the_setting_settles_them(tmp_path):
    text = "date,value\n" + "".join(f"01/{m:02d}/2020,{m}\n" for m in range(1, 13))
    path = _write(tmp_path, text)
    assert _error(path) == (
        f"{path}, column 'date': dates such as '01/01/2020' read both day first and month first; set "
        "source.day_first = true (day first, as in Europe) or false (month first, as in the US)")
    assert read_series_csv(path, day_first=True).frequency == "monthly"
    assert read_series_csv(path, day_first=False).frequency == "daily"


def test_a_second_value_column_is_never_silently_the_series_id(tmp_path):
    text = "date,sales,price\n" + "".join(f"2020-{m:02d}-01,{m},{2 * m}.5\n" for m in range(1, 13))
    path = _write(tmp_path, text)
    assert _error(path, value_column="sales") == (
        f"{path}, row 1, column 'price': column 'price' is left over beside value_column and holds numbers: pass "
        "id_column='price' if it holds the series ids, or ignore_columns='price' to leave it out")
    table = read_series_csv(path, value_column="sales", ignore_columns=("price",))
    assert table.columns == {"date": "date", "value": "sales", "id": None}
    assert table.frame["value"].tolist() == [float(m) for m in range(1, 13)]
    other = read_series_csv(path, ignore_columns=("sales",))
    assert other.frame["value"].tolist()[:2] == [2.5, 4.5]


def test_an_ignored_column_that_does_not_exist_is_named(tmp_path):
    path = _write(tmp_path, "date,value\n2020-01-01,1\n2020-02-01,2\n")
    assert _error(path, ignore_columns=("notes",)) == (
        f"{path}, row 1, column 'notes': ignore_columns='notes' is not a column; the header has 'date', 'value'")


@pytest.mark.parametrize(("spacing", "said"), [(60, "1 minute"), (300, "5 minutes"), (30, "30 seconds")])
def test_data_finer_than_hourly_is_told_what_is_supported(tmp_path, spacing, said):
    start = dt.datetime(2020, 1, 1)
    rows = "".join(f"{start + dt.timedelta(seconds=spacing * i):%Y-%m-%d %H:%M:%S},{i}\n" for i in range(200))
    path = _write(tmp_path, "time,value\n" + rows)
    message = _error(path)
    assert message.startswith(f"{path}, row 3, column 'time': rows {said} apart (e.g. ")
    assert message.endswith("finer than hourly; seqflow forecasts hourly, daily, weekly, monthly, quarterly, yearly "
                            "series: aggregate the rows to hourly (or coarser) first")
    assert "pass frequency=" not in message


def test_an_unterminated_quote_is_one_line_naming_its_row(tmp_path):
    rows = [f"2020-{m:02d}-01,{m}" for m in range(1, 13)]
    rows[2] = '2020-03-01,"3'
    path = _write(tmp_path, "date,value\n" + "\n".join(rows) + "\n")
    message = _error(path)
    assert message == (f"{path}, row 4: a quote opened on this row is never closed: the 9 lines after it would be "
                       "one cell; close the quote or remove it")


def test_a_stray_quote_closed_rows_later_is_one_line(tmp_path):
    rows = [f"2020-{m:02d}-01,{m}" for m in range(1, 13)]
    rows[2], rows[5] = '2020-03-01,"3', '2020-06-01,6"'
    path = _write(tmp_path, "date,value\n" + "\n".join(rows) + "\n")
    message = _error(path)
    assert message == (f"{path}, row 4, column 'value': a quoted cell runs over 4 lines (a quote opened here is closed "
                       "only 3 rows later); close the quote on this row or remove it")
    assert "\n" not in message


def test_a_cell_over_the_csv_field_limit_is_one_line_naming_file_and_row(tmp_path):
    path = _write(tmp_path, "date,value\n2020-01-01,1\n2020-02-01,\"" + "9" * 140_000 + "\n")
    message = _error(path)
    assert message == (f"{path}, row 3: a cell longer than 131,072 characters (the csv reader's limit) starts here; "
                       "is a quote opened on this row never closed?")


@pytest.mark.parametrize(("cell", "rule"), [
    ("1_000", "not a number in a form a CSV writer emits (digits, one '.', an optional exponent; no '_', hex or "
              "non-ASCII digits)"),
    ("\u0661\u0662", "not a number in a form a CSV writer emits (digits, one '.', an optional exponent; no '_', hex "
                     "or non-ASCII digits)"),
    ("0x10", "not a number"),
    (" inf", "not a finite number; values must be finite"),
    ("-Infinity", "not a finite number; values must be finite"),
    ("1e999", "out of range: beyond float64's largest value (about 1.8e308)"),
    ("1,5", "not a number (a decimal comma? set source.decimal = ',')"),
])
def test_number_forms_no_csv_writer_emits_are_refused(tmp_path, cell, rule):
    rows = [f"2020-{m:02d}-01,{m}" for m in range(1, 13)]
    rows[4] = f'2020-05-01,"{cell}"'
    path = _write(tmp_path, "date,value\n" + "\n".join(rows) + "\n")
    assert _error(path) == f"{path}, row 6, column 'value': {cell.strip()!r}: {rule}"


def test_nan_where_a_value_is_required_names_row_and_column(tmp_path):
    rows = [f"2020-{m:02d}-01,{m}" for m in range(1, 13)]
    rows[4] = "2020-05-01,nan"
    path = _write(tmp_path, "date,value\n" + "\n".join(rows) + "\n")
    assert _error(path) == (f"{path}, row 6, column 'value': missing value; set missing='interpolate' or 'ffill' to "
                            "fill it (missing='error')")


def test_plain_number_forms_still_read(tmp_path):
    cells = ["1", "-2.5", ".5", "3.", "1e3", "-1.5E-2", "+4", "0"]
    path = _write(tmp_path, "date,value\n" + "".join(f"2020-{m:02d}-01,{c}\n" for m, c in enumerate(cells, 1)))
    assert read_series_csv(path).frame["value"].tolist() == [1, -2.5, 0.5, 3, 1000, -0.015, 4, 0]


@pytest.mark.parametrize(("row", "expected"), [
    ("H2,1,2,3,4", "row 3, column 'V1': 'H2': row has 5 cells but the header has 3 columns (V1..V3); an M4 row is "
                   "never longer than its header"),
    ("H2,1_0,2", "row 3, column 'V2': '1_0': not a number in a form a CSV writer emits (digits, one '.', an optional "
                 "exponent; no '_', hex or non-ASCII digits)"),
    ("H2,1e999,2", "row 3, column 'V2': '1e999': out of range: beyond float64's largest value (about 1.8e308)"),
])
def test_an_m4_row_longer_than_its_header_or_with_a_strange_number_is_refused(tmp_path, row, expected):
    path = _write(tmp_path, f"V1,V2,V3\nH1,5,6\n{row}\n", "H-train.csv")
    with pytest.raises(InputError) as caught:
        read_m4_wide(path)
    assert str(caught.value) == f"{path}, {expected}"


def test_an_m4_row_padded_with_empty_cells_past_its_header_still_reads(tmp_path):
    path = _write(tmp_path, "V1,V2,V3\nH1,5,6,,\n", "H-train.csv")
    assert read_m4_wide(path)["H1"][1].tolist() == [5.0, 6.0]


def test_a_second_value_column_with_blank_cells_is_still_not_the_series_id(tmp_path):
    text = "date,sales,price\n" + "".join(f"2020-{m:02d}-01,{m},{'' if m % 4 == 0 else m}\n" for m in range(1, 13))
    path = _write(tmp_path, text)
    assert _error(path, value_column="sales").endswith(
        "column 'price' is left over beside value_column and holds numbers: pass id_column='price' if it holds the "
        "series ids, or ignore_columns='price' to leave it out")
