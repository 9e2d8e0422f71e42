"""Bad series files through the CLI: one line naming file, row, column and rule, exit 2, nothing written.

The file is read and checked before Prefect or MLflow start, so no run is opened and the artifacts
tree is untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

GOOD_ROWS = [f"2000-{m:02d}-01,{100 + m}" for m in range(1, 13)] + [f"2001-{m:02d}-01,{120 + m}" for m in range(1, 13)]

# (file name, content, extra CLI arguments, the expected line after "error: {file}")
CASES = [
    ("empty.csv", "", [], ": file is empty"),
    ("binary.csv", b"date,value\n\x00\x01\x02", [], ": binary file (a NUL byte at offset 11); expected CSV text"),
    ("noheader.csv", "\n".join(GOOD_ROWS), [],
     ", row 1: no header row: the first row ('2000-01-01', '101') looks like data; add a header such as date,value"),
    ("column.csv", "date,value\n" + "\n".join(GOOD_ROWS), ["--set", "source.value_column=sales"],
     ", row 1, column 'sales': value_column='sales' is not a column; the header has 'date', 'value'"),
    ("dates.csv", "date,value\n" + "\n".join(GOOD_ROWS[:5] + ["2000-13-01,7"] + GOOD_ROWS[6:]), [],
     ", row 7, column 'date': '2000-13-01': not a date (other rows look like '2000-01-01'); pass date_format= to "
     "say how to read them"),
    ("values.csv", "date,value\n" + "\n".join(GOOD_ROWS[:3] + ["2000-04-01,n/a!"] + GOOD_ROWS[4:]), [],
     ", row 5, column 'value': 'n/a!': not a number"),
    ("inf.csv", "date,value\n" + "\n".join(GOOD_ROWS[:3] + ["2000-04-01,inf"] + GOOD_ROWS[4:]), [],
     ", row 5, column 'value': 'inf': not a finite number; values must be finite"),
    ("dup.csv", "date,value\n" + "\n".join(GOOD_ROWS[:4] + ["2000-04-01,1"] + GOOD_ROWS[4:]), [],
     ", row 6, column 'date': '2000-04-01': duplicate timestamp in series 'dup': row 5 has the same one"),
    ("gap.csv", "date,value\n" + "\n".join(GOOD_ROWS[:4] + GOOD_ROWS[6:]), [],
     ", row 6, column 'date': '2000-07-01': gap in the calendar: follows '2000-04-01' in series 'gap', 2 monthly "
     "steps missing; add the missing rows (an empty value is filled by missing='interpolate' or 'ffill')"),
    ("missing.csv", "date,value\n" + "\n".join(GOOD_ROWS[:4] + ["2000-05-01,"] + GOOD_ROWS[5:]), [],
     ", row 6, column 'value': missing value; set missing='interpolate' or 'ffill' to fill it (missing='error')"),
    ("short.csv", "date,value\n" + "\n".join(GOOD_ROWS), ["--horizon", "6", "--set", "model.recipe=manual"],
     ": series 'short' has 24 steps, too short: window.lookback = 32, window.horizon = 6 (held out), "
     "window.stride = 1, split.validation = 0.15 need at least 50 steps per series; shorten the window or the "
     "horizon, or use fewer folds"),
]


def _snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize(("name", "content", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_file_is_one_line_exit_2_and_writes_nothing(name, content, extra, expected, tmp_path, artifacts_root):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = _snapshot(Path(artifacts_root))
    result = CliRunner().invoke(app, ["run", "forecast", "--source", "csv", "--path", str(path), *extra])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {path}{expected}"]
    assert _snapshot(Path(artifacts_root)) == before  # no Parquet, no MLflow store or run, no Prefect database


def test_a_missing_file_and_an_m4_test_file_of_the_wrong_width(tmp_path, artifacts_root):
    before = _snapshot(Path(artifacts_root))
    missing = CliRunner().invoke(app, ["run", "forecast", "--source", "csv", "--path", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope.csv'}: file not found"
    train, test = tmp_path / "H-train.csv", tmp_path / "H-test.csv"
    train.write_text("V1," + ",".join(f"V{i}" for i in range(2, 202)) + "\nH1," + ",".join(map(str, range(200))) + "\n")
    test.write_text("V1,V2,V3\nH1,1,2\n")
    wrong = CliRunner().invoke(app, ["run", "forecast", "--source", "m4", "--path", str(train), "--test", str(test)])
    assert wrong.exit_code == 2
    assert wrong.stderr.strip() == (f"error: {test}: holds 2 steps per series but window.horizon = 1; the test file "
                                    "is the held-out horizon: pass --horizon 2")
    assert _snapshot(Path(artifacts_root)) == before
