"""Every rule of the edge: a small file written here, the exact one-line message asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.errors import InputError
from tasks.forecasting.sources.m4 import read_m4
from tasks.forecasting.sources.tabular import read_series_csv


def _write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        read_series_csv(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return info.value


MONTHLY = "month,value\n2020-01,1\n2020-02,2\n2020-03,3\n2020-04,4\n"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    err = _error(path)
    assert str(err) == f"{path}: file not found"
    assert err.file == str(path) and err.row is None


def test_empty_file(tmp_path):
    path = _write(tmp_path, "\n  \n")
    assert str(_error(path)) == f"{path}: file is empty"


def test_header_without_data_rows(tmp_path):
    path = _write(tmp_path, "month,value\n")
    assert str(_error(path)) == f"{path}: no data rows below the header"


def test_binary_file(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00binary")
    assert str(_error(path)) == f"{path}: binary file (a NUL byte at offset 4); expected CSV text"


def test_no_header(tmp_path):
    path = _write(tmp_path, "2020-01,1\n2020-02,2\n")
    err = _error(path)
    assert str(err) == (
        f"{path}, row 1: no header row: the first row ('2020-01', '1') looks like data; "
        "add a header such as date,value"
    )
    assert err.row == 1


def test_unknown_column_lists_the_real_ones(tmp_path):
    path = _write(tmp_path, MONTHLY)
    err = _error(path, value_column="sales")
    assert str(err) == (
        f"{path}, row 1, column 'sales': value_column='sales' is not a column; the header has 'month', 'value'"
    )
    assert (err.row, err.column) == (1, "sales")


def test_ambiguous_columns_name_the_argument(tmp_path):
    path = _write(tmp_path, "store,when,units\na,2020-01,1\n")
    assert str(_error(path)) == (
        f"{path}, row 1: cannot tell which column holds the dates among 'store', 'when', 'units'; pass date_column="
    )


def test_unparseable_date(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,1\n2020-13,2\n2020-03,3\n")
    err = _error(path)
    assert str(err) == (
        f"{path}, row 3, column 'month': '2020-13': not a date (other rows look like '2020-01'); "
        "pass date_format= to say how to read them"
    )
    assert (err.row, err.column, err.value) == (3, "month", "2020-13")


def test_missing_date(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,1\n,2\n2020-03,3\n")
    assert str(_error(path)) == (
        f"{path}, row 3, column 'month': missing date; every row needs one (other rows look like '2020-01')"
    )


def test_non_numeric_value(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,1\n2020-02,12 units\n2020-03,3\n")
    err = _error(path)
    assert str(err) == f"{path}, row 3, column 'value': '12 units': not a number"
    assert (err.row, err.column) == (3, "value")


def test_non_finite_value(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,1\n2020-02,inf\n2020-03,3\n")
    assert str(_error(path)) == f"{path}, row 3, column 'value': 'inf': not a finite number; values must be finite"


def test_duplicate_timestamp_within_a_series(tmp_path):
    path = _write(tmp_path, "series_id,date,value\na,2020-01-01,1\nb,2020-01-01,1\na,2020-01-01,2\n")
    err = _error(path)
    assert str(err) == (
        f"{path}, row 4, column 'date': '2020-01-01': duplicate timestamp in series 'a': row 2 has the same one"
    )


def test_gap_in_the_calendar(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,1\n2020-02,2\n2020-05,5\n2020-06,6\n")
    err = _error(path)
    assert str(err) == (
        f"{path}, row 4, column 'month': '2020-05': gap in the calendar: follows '2020-02' in series 's', "
        "2 monthly steps missing; add the missing rows (an empty value is filled by missing='interpolate' or 'ffill')"
    )


def test_two_rows_in_one_period_of_the_given_frequency(tmp_path):
    path = _write(tmp_path, "date,value\n2020-01-01,1\n2020-01-02,2\n2020-02-01,3\n")
    assert str(_error(path, frequency="monthly")) == (
        f"{path}, row 3, column 'date': '2020-01-02': falls in the same monthly period as row 2 ('2020-01-01') "
        "in series 's'; frequency='monthly' needs one row per period"
    )


def test_missing_value_under_error_policy(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,1\n2020-02,\n2020-03,3\n")
    err = _error(path)
    assert str(err) == (
        f"{path}, row 3, column 'value': missing value; set missing='interpolate' or 'ffill' to fill it "
        "(missing='error')"
    )


def test_missing_value_interpolated_and_carried_forward(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,1\n2020-02,\n2020-03,.\n2020-04,4\n")
    assert read_series_csv(path, missing="interpolate").frame["value"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert read_series_csv(path, missing="ffill").frame["value"].tolist() == [1.0, 1.0, 1.0, 4.0]


def test_missing_value_that_cannot_be_filled(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,\n2020-02,2\n2020-03,3\n")
    assert str(_error(path, missing="ffill")) == (
        f"{path}, row 2, column 'value': missing value at the start of series 's': nothing earlier to carry "
        "forward (missing='ffill')"
    )
    assert str(_error(path, missing="interpolate")) == (
        f"{path}, row 2, column 'value': missing value at the start or end of series 's': nothing on both sides "
        "to interpolate between"
    )


def test_unknown_missing_policy(tmp_path):
    path = _write(tmp_path, MONTHLY)
    assert str(_error(path, missing="zero")) == "missing = 'zero': must be one of error, interpolate, ffill"


def test_series_too_short(tmp_path):
    path = _write(tmp_path, MONTHLY)
    err = _error(path, min_length=6)
    assert str(err) == (
        f"{path}, row 2, column 'value': series 's' has 4 values (rows 2-5); min_length=6 needs at least 6"
    )


def test_frequency_that_cannot_be_inferred(tmp_path):
    path = _write(tmp_path, "date,value\n2020-01-01,1\n2020-01-04,2\n2020-01-09,3\n2020-01-11,4\n")
    err = _error(path)
    assert str(err) == (
        f"{path}, row 3, column 'date': cannot infer the frequency: the steps between rows (e.g. '2020-01-01' to "
        "'2020-01-04') fit none of hourly, daily, weekly, monthly, quarterly, yearly; pass frequency="
    )


def test_frequency_from_a_single_row(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,1\n")
    assert str(_error(path)) == (
        f"{path}, column 'month': cannot infer the frequency from a single row per series; pass frequency="
    )


def test_unknown_frequency(tmp_path):
    path = _write(tmp_path, MONTHLY)
    assert str(_error(path, frequency="fortnightly")) == (
        "frequency = 'fortnightly': must be one of hourly, daily, weekly, monthly, quarterly, yearly"
    )


def test_row_with_more_cells_than_the_header(tmp_path):
    path = _write(tmp_path, "month,value\n2020-01,1\n2020-02,2,extra\n")
    assert str(_error(path)) == f"{path}, row 3: row has 3 cells but the header has 2 columns"


def test_missing_series_id(tmp_path):
    path = _write(tmp_path, "series_id,date,value\na,2020-01-01,1\n,2020-01-02,2\n")
    assert str(_error(path)) == f"{path}, row 3, column 'series_id': missing series id"


def test_rows_are_numbered_as_an_editor_does(tmp_path):
    # A blank line and a quoted cell spanning two lines shift the rows below them.
    path = _write(tmp_path, 'month,value\n2020-01,1\n\n"2020-02",2\n2020-03,"3\n"\n2020-04,x\n')
    err = _error(path)
    assert (err.row, err.column, err.value) == (7, "value", "x")


# M4 wide files ---------------------------------------------------------------------------------


def _m4_error(train: Path, test: Path | None = None) -> str:
    with pytest.raises(InputError) as info:
        read_m4(train, test)
    return str(info.value)


def test_m4_file_not_wide(tmp_path):
    path = _write(tmp_path, "id,x\nH1,1\n", "train.csv")
    assert _m4_error(path) == (
        f"{path}, row 1: not an M4 wide file: the first column must be 'V1' (the series id), found 'id'"
    )


def test_m4_hole_inside_a_row(tmp_path):
    path = _write(tmp_path, '"V1","V2","V3","V4"\n"H1","1","","3"\n', "train.csv")
    assert _m4_error(path) == (
        f"{path}, row 2, column 'V3': empty cell before the row's last value; M4 rows are left-aligned, "
        "padded only at the end"
    )


def test_m4_non_numeric_and_non_finite(tmp_path):
    path = _write(tmp_path, '"V1","V2","V3"\n"H1","1","x"\n', "train.csv")
    assert _m4_error(path) == f"{path}, row 2, column 'V3': 'x': not a number"
    path = _write(tmp_path, '"V1","V2","V3"\n"H1","1","-inf"\n', "train.csv")
    assert _m4_error(path) == f"{path}, row 2, column 'V3': '-inf': not a finite number; values must be finite"


def test_m4_repeated_id(tmp_path):
    path = _write(tmp_path, '"V1","V2"\n"H1","1"\n"H1","2"\n', "train.csv")
    assert _m4_error(path) == f"{path}, row 3, column 'V1': 'H1': series id appears twice: row 2 has it too"


def test_m4_test_file_must_match_the_train_file(tmp_path):
    train = _write(tmp_path, '"V1","V2","V3"\n"H1","1","2"\n"H2","3","4"\n', "train.csv")
    test = _write(tmp_path, '"V1","V2","V3"\n"H1","5","6"\n"H2","7",""\n', "test.csv")
    assert _m4_error(train, test) == (
        f"{test}, row 3, column 'V1': series 'H2' has 1 test values, others 2; every series needs the same horizon"
    )
    test = _write(tmp_path, '"V1","V2"\n"H1","5"\n"H3","7"\n', "test.csv")
    assert _m4_error(train, test) == f"{test}, row 3, column 'V1': 'H3': series is not in the train file"


def test_m4_frequency_not_in_the_ids(tmp_path):
    path = _write(tmp_path, '"V1","V2"\n"X1","1"\n', "train.csv")
    assert _m4_error(path) == (
        f"{path}, row 2, column 'V1': 'X1': cannot infer the frequency from the ids (M4 ids start with one of "
        "Y, Q, M, W, D, H, all the same letter); pass frequency="
    )


def test_a_file_the_disk_fails_to_read_is_a_fault_in_one_line(monkeypatch, tmp_path):
    import errno
    from pathlib import Path

    from tasks.errors import EnvironmentFault
    from tasks.forecasting.sources import validation

    path = tmp_path / "sales.csv"
    path.write_text("date,value\n2020-01-01,1\n")

    def failing(self):
        raise OSError(errno.EIO, "Input/output error", str(self))

    monkeypatch.setattr(Path, "read_bytes", failing)
    with pytest.raises(EnvironmentFault) as info:
        validation.check_readable(path)
    assert str(info.value) == f"{path}: cannot be read (Input/output error); check the disk or share it is on"
