"""The bad-input battery: every setting, file and environment a user can get wrong is refused in one
line, exit code 2 (1 for a damaged store), before anything is written or any run opened (issue:
settings that failed a minute after they were accepted; issue 23: real exports, number forms, late
refusals, broken stores). The expected lines are the messages themselves, so a vaguer message fails
the test. ``benchmarks/battery.py`` runs the same inputs as commands and tables exit code, first
line, seconds and what was left behind (docs/results/*-bad-input-battery.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

BATTERY = [
    ('study', ['--set', 'model.cells=lstm,bogus'],
     "model.cells = 'lstm,bogus': unknown cell 'bogus'; valid cells: rnn, lstm, gru, manual_rnn, peephole_lstm"),
    ('study', ['--set', 'window.lookback=0'],
     'window.lookback = 0: Input should be greater than 0'),
    ('study', ['--set', 'window.horizon=5000'],
     'window.horizon: lookback 32 + horizon 5000 = 5032 steps is longer than the training part (700 of 1000 points); shorten the window or lengthen the series'),
    ('study', ['--set', 'train.epoch=3'],
     'train.epoch: unknown key (not a setting of this config; `seqflow config show study` lists them)'),
    ('forecast', ['--set', 'train.epoch=3'],
     'train.epoch: unknown key (not a setting of this config; `seqflow config show forecast` lists them)'),
    ('study', ['--set', 'window.stride=900'],
     'window.stride = 900: the validation part (steps 700..849) holds no whole window of lookback 32 + horizon 1 with windows starting every 900 steps; use a smaller stride or window'),
    ('study', ['--set', 'window.horizon=200'],
     'window.horizon: the validation part (steps 700..849, 150 steps) cannot hold a target of 200 steps (lookback 32 + horizon 200); shorten it or give the validation part more of the series'),
    ('study', ['--set', 'evaluate.ar_lags=800'],
     'evaluate.ar_lags = 800 needs a training part of more than 1601 points; it has 700'),
    ('study', ['--set', 'evaluate.season_length=900'],
     'evaluate.season_length = 900 reaches before the series start for the first test step (850); it must be at most 850'),
    ('study', ['--set', 'source.amplitude=inf'],
     'source.amplitude = inf: Input should be a finite number'),
    ('study', ['--set', 'source.amplitude=nan'],
     'source.amplitude = nan: Input should be a finite number'),
    ('study', ['--set', 'train.learning_rate=inf'],
     'train.learning_rate = inf: Input should be a finite number'),
    ('study', ['--set', 'train.learning_rate=0'],
     'train.learning_rate = 0: Input should be greater than 0'),
    ('study', ['--set', 'train.learning_rate=-1'],
     'train.learning_rate = -1: Input should be greater than 0'),
    ('study', ['--set', 'model.units=off'],
     "model.units = 'off': Input should be a valid integer"),
    ('study', ['--set', 'model.units="32"'],
     "model.units = '32': Input should be a valid integer"),
    ('study', ['--set', 'model.activation=sigmoid'],
     "model.activation = 'sigmoid': unknown activation 'sigmoid'; valid activations: tanh, relu, leaky_relu, elu"),
    ('study', ['--set', 'split.train=0.9'],
     'split.train + split.validation = 1.05 must be < 1 to leave a test part'),
    ('study', ['--set', 'split.validation=0'],
     'split.validation = 0: Input should be greater than 0'),
    ('study', ['--set', 'seed=-1'],
     'seed = -1: Input should be greater than or equal to 0'),
    ('study', ['--set', 'seed=x'],
     "seed = 'x': Input should be a valid integer"),
    ('study', ['--set', 'window.target=next'],
     "window.target = 'next': Input should be 'horizon' or 'shifted'"),
    ('forecast', ['--set', 'source.kind=excel'],
     "source.kind = 'excel': unknown source; valid kinds: csv, m4"),
    ('forecast', ['--source', 'csv'],
     'source.path: required (it has no default)'),
    ('forecast', ['--source', 'csv', '--path', 'x.csv', '--set', 'source.amplitude=2'],
     'source.amplitude: unknown key (not a setting of this config; `seqflow config show forecast` lists them)'),
    ('forecast', ['--source', 'csv', '--path', 'x.csv', '--set', 'split.mode=fractions'],
     "split.mode: the forecasting flow always holds out the last window.horizon steps of each series (split.validation is its only split setting); the fraction split is the sine study's (seqflow run study)"),
    ('forecast', ['--source', 'csv', '--path', 'x.csv', '--set', 'source.missing=drop'],
     "source.missing = 'drop': Input should be 'error', 'interpolate' or 'ffill'"),
    ('forecast', ['--source', 'csv', '--path', 'x.csv', '--set', 'source.frequency=minutely'],
     "source.frequency = 'minutely': Input should be 'hourly', 'daily', 'weekly', 'monthly', 'quarterly' or 'yearly'"),
    ('forecast', ['--source', 'csv', '--path', 'x.csv', '--test', 'y.csv'],
     "--test y.csv: a test file goes with --source m4 (M4's wide files); a CSV holds out its last --horizon steps"),
    ('forecast', ['--source', 'm4'],
     'source.path: required (it has no default)'),
    ('forecast', ['--source', 'csv', '--path', 'x.csv', '--horizon', '0'],
     'window.horizon = 0: Input should be greater than 0'),
    ('study', ['--set', 'evaluate.folds=3'],
     'evaluate.folds: unknown key (not a setting of this config; `seqflow config show study` lists them)'),
    ('forecast', ['--source', 'm4', '--path', 'x.csv', '--set', 'evaluate.baselines=naive,arima'],
     "evaluate.baselines = 'naive,arima': unknown baseline 'arima'; valid baselines: naive, seasonal_naive, naive2, holt_winters, holt_winters_damped, theta"),
    ('study', ['--set', 'model.ensemble=3'],
     'model.ensemble: unknown key (not a setting of this config; `seqflow config show study` lists them)'),
    ('forecast', ['--set', 'window.target=shifted'],
     'window.target: unknown key (not a setting of this config; `seqflow config show forecast` lists them)'),
    ('study', ['--set', 'source.resolution=0'],
     'source.resolution = 0: Input should be greater than 0'),
    ('study', ['--set', 'source.x_end=-5'],
     'source.x_end = -5.0 must be greater than source.x_start = 0.0'),
    ('study', ['--set', 'source.noise_std=-0.1'],
     'source.noise_std = -0.1: Input should be greater than or equal to 0'),
    ('study', ['--set', 'model.layers=0'],
     'model.layers = 0: Input should be greater than or equal to 1'),
    ('study', ['--set', 'model.layers=9'],
     'model.layers = 9: Input should be less than or equal to 8'),
    ('study', ['--set', 'model.dropout=1'],
     'model.dropout = 1: Input should be less than 1'),
    ('study', ['--set', 'train.batch_size=0'],
     'train.batch_size = 0: Input should be greater than 0'),
    ('study', ['--set', 'train.epochs=0'],
     'train.epochs = 0: Input should be greater than 0'),
    ('study', ['--set', 'train.patience=0'],
     'train.patience = 0: Input should be greater than or equal to 1'),
    ('study', ['--set', 'train.clipnorm=0'],
     'train.clipnorm = 0: Input should be greater than 0'),
    ('study', ['--set', 'train.clipvalue=-1'],
     'train.clipvalue = -1: Input should be greater than 0'),
    ('study', ['--set', 'evaluate.generate_steps=0'],
     'evaluate.generate_steps = 0: Input should be greater than 0'),
    ('study', ['--set', 'evaluate.generate_steps=5000'],
     'evaluate.generate_steps = 5000 is longer than the test part (150 points)'),
    ('study', ['--set', 'evaluate.gradient_windows=0'],
     'evaluate.gradient_windows = 0: Input should be greater than 0'),
    ('study', ['--set', 'tracking.experiment=""'],
     "tracking.experiment = '': String should have at least 1 character"),
    ('study', ['--set', 'model.cells=""'],
     "model.cells = '': at least one cell is needed; valid cells: rnn, lstm, gru, manual_rnn, peephole_lstm"),
    ('study', ['--set', 'model.cells=lstm,lstm'],
     "model.cells = 'lstm,lstm': cells ['lstm', 'lstm'] name a cell twice"),
    ('study', ['--set', 'window=3'],
     'window = 3: Input should be a valid dictionary or instance of WindowConfig'),
    ('study', ['--set', 'seed.x=1'],
     "seed = {'x': 1}: Input should be a valid integer"),
    ('study', ['--set', 'window.lookback'],
     "--set 'window.lookback': expected KEY=VALUE, e.g. --set window.lookback=24"),
    ('study', ['--config', '{tmp}/missing.toml'],
     '--config {tmp}/missing.toml: no such file'),
    ('study', ['--config', '{tmp}'],
     '--config {tmp}: is a directory; give a .toml file (see flows/configs/)'),
    ('study', ['--config', '{tmp}/bad.toml'],
     "--config {tmp}/bad.toml: not valid TOML (Expected ']' at the end of a table declaration (at line 2, column 8))"),
    ('study', ['--set', 'train.progress=maybe'],
     "train.progress = 'maybe': Input should be a valid boolean"),
    ('study', ['--set', 'source.x_end=1e12'],
     'source: (x_end - x_start) / resolution = 10000000000000 points; at most 5,000,000'),
    ('study', ['--set', 'window.lookback=700'],
     'window.lookback: lookback 700 + horizon 1 = 701 steps is longer than the training part (700 of 1000 points); shorten the window or lengthen the series'),
    ('study', ['--set', 'window.stride=1.5'],
     'window.stride = 1.5: Input should be a valid integer'),
    ('study', ['--set', 'tracking.experiment=../../../../tmp/escape'],
     "tracking.experiment = '../../../../tmp/escape': an experiment name cannot be a path: no '/', '\\', '..' or control characters"),
    ('forecast', ['--set', 'tracking.experiment=/tmp/absolute'],
     "tracking.experiment = '/tmp/absolute': an experiment name cannot be a path: no '/', '\\', '..' or control characters"),
    ('embed', ['--set', 'tracking.experiment="a\\\\b"'],
     "tracking.experiment = 'a\\\\b': an experiment name cannot be a path: no '/', '\\', '..' or control characters"),
    ('lesson', ['--set', 'tracking.experiment=".."'],
     "tracking.experiment = '..': an experiment name cannot be a path: no '/', '\\', '..' or control characters"),
    ('study', ['--set', 'tracking.experiment="nul\\u0000name"'],
     "tracking.experiment = 'nul\\x00name': an experiment name cannot be a path: no '/', '\\', '..' or control characters"),
    ('forecast', ['--set', 'train.batch_size=10000000000000000000000'],
     'train.batch_size = 10000000000000000000000: Input should be less than or equal to 1000000'),
    ('study', ['--set', 'seed=4294967296'],
     'seed = 4294967296: Input should be less than or equal to 4294967295'),
    ('forecast', ['--set', 'window.lookback=10000000000000000000000'],
     'window.lookback = 10000000000000000000000: Input should be less than or equal to 100000000'),
    ('embed', ['--set', 'model.vector_size=10000000000000000000000'],
     'model.vector_size = 10000000000000000000000: Input should be less than or equal to 10000'),
    ('lesson', ['--set', 'sweep.seeds=1,10000000000000000000000'],
     "sweep.seeds = '1,10000000000000000000000': seeds [1, 10000000000000000000000]: every seed must be between 0 and 4294967295"),
    ('lesson', ['--set', 'train.patience=100001'],
     'train.patience = 100001: Input should be less than or equal to 100000'),
    ('forecast', ['--path', 'x.csv', '--set', 'source.separator=x'],
     "source.separator = 'x': a separator is one character other than a letter, digit, quote, '.' or line break"),
    ('forecast', ['--path', 'x.csv', '--set', 'source.separator=";;"'],
     "source.separator = ';;': String should have at most 1 character"),
    ('forecast', ['--path', 'x.csv', '--set', 'source.separator="\\""'],
     "source.separator = '\"': a separator is one character other than a letter, digit, quote, '.' or line break"),
    ('forecast', ['--path', 'x.csv', '--set', 'source.encoding=klingon'],
     "source.encoding = 'klingon': unknown encoding; use a Python codec name such as utf-8, utf-16, latin-1 or cp1252"),
    ('forecast', ['--path', 'x.csv', '--set', 'source.decimal=";"'],
     "source.decimal = ';': Input should be '.' or ','"),
    ('forecast', ['--path', 'x.csv', '--set', 'source.day_first=maybe'],
     "source.day_first = 'maybe': Input should be a valid boolean"),
]



def _monthly(n: int = 60, value=lambda i: 100 + i % 12 + i, header: str = "date,value", sep: str = ",") -> str:
    """A monthly series from 2000-01, ``n`` rows."""
    return header + "\n" + "".join(f"{2000 + i // 12}-{i % 12 + 1:02d}-01{sep}{value(i)}\n" for i in range(n))


def _with_row(k: int, row: str, n: int = 60) -> str:
    """The monthly series with data row ``k`` (0-based; editor row k + 2) replaced."""
    lines = _monthly(n).splitlines()
    lines[k + 1] = row
    return "\n".join(lines) + "\n"


def _m4(*rows: str, width: int = 60) -> str:
    return "V1," + ",".join(f"V{i}" for i in range(2, width + 2)) + "\n" + "".join(r + "\n" for r in rows)


_M4_ROW = "M1," + ",".join(str(100 + i % 12) for i in range(60))
_FORECAST = ["run", "forecast", "--path", "{tmp}/f.csv"]
_M4_RUN = ["run", "forecast", "--source", "m4", "--path", "{tmp}/M-train.csv"]
_PREDICT = ["predict", "--model", "models:/forecast-nothing@champion", "--input", "{tmp}/f.csv"]
_STORE = "restore it from a backup, or move it away and run again to start a new, empty store"
_BAD_ID = "SEQFLOW_SERVER_IDLE_SECONDS = {!r}: expected seconds >= 0 (0 = a temporary server per run)"
_FORM = "not a number in a form a CSV writer emits (digits, one '.', an optional exponent; no '_', hex or non-ASCII digits)"

# Files, stores and the environment: (kind, name, argv, files {name: text | bytes | None (a folder)},
# environment, exit code, the one line on stderr). "{tmp}" is the case's own folder.
INPUTS = [
    ("csv", "empty file", _FORECAST, {"f.csv": ""}, {}, 2, "{tmp}/f.csv: file is empty"),
    ("csv", "blank lines only", _FORECAST, {"f.csv": "\n \n\n"}, {}, 2, "{tmp}/f.csv: file is empty"),
    ("csv", "binary", _FORECAST, {"f.csv": b"date,value\n\x00\x01\x02"}, {}, 2,
     "{tmp}/f.csv: binary file (a NUL byte at offset 11); expected CSV text"),
    ("csv", "UTF-16 with a bad value (read, not called binary)", _FORECAST,
     {"f.csv": _with_row(3, "2000-04-01,n/a!").encode("utf-16")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': 'n/a!': not a number"),
    ("csv", "a folder as the file", ["run", "forecast", "--path", "{tmp}/d"], {"d": None}, {}, 2,
     "{tmp}/d: not a regular file (a directory); give a file"),
    ("csv", "no header", _FORECAST, {"f.csv": "2000-01-01,1\n2000-02-01,2\n"}, {}, 2,
     "{tmp}/f.csv, row 1: no header row: the first row ('2000-01-01', '1') looks like data; add a header such as "
     "date,value"),
    ("csv", "a header cell without a name", _FORECAST, {"f.csv": _monthly(header="date,,value")}, {}, 2,
     "{tmp}/f.csv, row 1: column 2 has no name; every column needs one"),
    ("csv", "a column name twice", _FORECAST, {"f.csv": _monthly(header="date,value,value")}, {}, 2,
     "{tmp}/f.csv, row 1, column 'value': column name appears twice in the header"),
    ("csv", "value_column not in the file", [*_FORECAST, "--set", "source.value_column=sales"],
     {"f.csv": _monthly()}, {}, 2,
     "{tmp}/f.csv, row 1, column 'sales': value_column='sales' is not a column; the header has 'date', 'value'"),
    ("csv", "ignore_columns not in the file", [*_FORECAST, "--set", "source.ignore_columns=notes"],
     {"f.csv": _monthly()}, {}, 2,
     "{tmp}/f.csv, row 1, column 'notes': ignore_columns='notes' is not a column; the header has 'date', 'value'"),
    ("csv", "a second value column left over", [*_FORECAST, "--set", "source.value_column=sales"],
     {"f.csv": "date,sales,price\n" + "".join(f"2000-{m:02d}-01,{m},{m}.5\n" for m in range(1, 13))}, {}, 2,
     "{tmp}/f.csv, row 1, column 'price': column 'price' is left over beside value_column and holds numbers: pass "
     "id_column='price' if it holds the series ids, or ignore_columns='price' to leave it out"),
    ("csv", "columns that cannot be told apart", _FORECAST, {"f.csv": "a,b,c\n1,2,3\n"}, {}, 2,
     "{tmp}/f.csv, row 1: cannot tell which column holds the dates among 'a', 'b', 'c'; pass date_column="),
    ("csv", "not a date", _FORECAST, {"f.csv": _with_row(5, "2000-13-01,7")}, {}, 2,
     "{tmp}/f.csv, row 7, column 'date': '2000-13-01': not a date (other rows look like '2000-01-01'); pass "
     "date_format= to say how to read them"),
    ("csv", "a missing date", _FORECAST, {"f.csv": _with_row(5, ",7")}, {}, 2,
     "{tmp}/f.csv, row 7, column 'date': missing date; every row needs one (other rows look like '2000-01-01')"),
    ("csv", "day or month first cannot be told", _FORECAST,
     {"f.csv": "date,value\n" + "".join(f"01/{m:02d}/2020,{m}\n" for m in range(1, 13))}, {}, 2,
     "{tmp}/f.csv, column 'date': dates such as '01/01/2020' read both day first and month first; set "
     "source.day_first = true (day first, as in Europe) or false (month first, as in the US)"),
    ("csv", "rows a minute apart", _FORECAST,
     {"f.csv": "time,value\n" + "".join(f"2020-01-01 {i // 60:02d}:{i % 60:02d}:00,{i}\n" for i in range(120))},
     {}, 2, "{tmp}/f.csv, row 3, column 'time': rows 1 minute apart (e.g. '2020-01-01 00:00:00' to "
     "'2020-01-01 00:01:00'): finer than hourly; seqflow forecasts hourly, daily, weekly, monthly, quarterly, yearly "
     "series: aggregate the rows to hourly (or coarser) first"),
    ("csv", "text as a value", _FORECAST, {"f.csv": _with_row(3, "2000-04-01,n/a!")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': 'n/a!': not a number"),
    ("csv", "1_000", _FORECAST, {"f.csv": _with_row(3, "2000-04-01,1_000")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': '1_000': " + _FORM),
    ("csv", "0x10", _FORECAST, {"f.csv": _with_row(3, "2000-04-01,0x10")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': '0x10': not a number"),
    ("csv", "Arabic-Indic digits", _FORECAST, {"f.csv": _with_row(3, "2000-04-01,\u0661\u0662")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': '\u0661\u0662': " + _FORM),
    ("csv", "1e999", _FORECAST, {"f.csv": _with_row(3, "2000-04-01,1e999")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': '1e999': out of range: beyond float64's largest value (about 1.8e308)"),
    ("csv", "' inf'", _FORECAST, {"f.csv": _with_row(3, "2000-04-01, inf")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': 'inf': not a finite number; values must be finite"),
    ("csv", "-Infinity", _FORECAST, {"f.csv": _with_row(3, "2000-04-01,-Infinity")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': '-Infinity': not a finite number; values must be finite"),
    ("csv", "nan where a value is required", _FORECAST, {"f.csv": _with_row(3, "2000-04-01,nan")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': missing value; set missing='interpolate' or 'ffill' to fill it "
     "(missing='error')"),
    ("csv", "a decimal comma in a comma file", _FORECAST, {"f.csv": _with_row(3, '2000-04-01,"1,5"')}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': '1,5': not a number (a decimal comma? set source.decimal = ',')"),
    ("csv", "a decimal point with decimal = ','", [*_FORECAST, "--set", "source.decimal=\",\""],
     {"f.csv": _monthly(value=lambda i: f"{i}.5", header="date;value", sep=";")}, {}, 2,
     "{tmp}/f.csv, row 2, column 'value': '0.5': not a number with source.decimal = ',' (a decimal point? set "
     "source.decimal = '.')"),
    ("csv", "a European export with a bad value", _FORECAST,
     {"f.csv": _monthly(value=lambda i: "x" if i == 7 else f"{i},5", header="Datum;Wert", sep=";")}, {}, 2,
     "{tmp}/f.csv, row 9, column 'Wert': 'x': not a number"),
    ("csv", "the wrong encoding set", [*_FORECAST, "--set", "source.encoding=utf-8"],
     {"f.csv": _monthly().encode("utf-16")}, {}, 2,
     "{tmp}/f.csv: not utf-8 text: byte 0 (b'\\xff') does not decode; set source.encoding to the file's encoding, or "
     "off to detect it"),
    ("csv", "a missing value", _FORECAST, {"f.csv": _with_row(3, "2000-04-01,")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': missing value; set missing='interpolate' or 'ffill' to fill it "
     "(missing='error')"),
    ("csv", "nothing to interpolate from", [*_FORECAST, "--set", "source.missing=interpolate"],
     {"f.csv": _with_row(0, "2000-01-01,")}, {}, 2,
     "{tmp}/f.csv, row 2, column 'value': missing value at the start or end of series 'f': nothing on both sides "
     "to interpolate between"),
    ("csv", "a duplicate timestamp", _FORECAST, {"f.csv": _with_row(4, "2000-04-01,1")}, {}, 2,
     "{tmp}/f.csv, row 6, column 'date': '2000-04-01': duplicate timestamp in series 'f': row 5 has the same one"),
    ("csv", "a gap", _FORECAST, {"f.csv": "\n".join(l for i, l in enumerate(_monthly().splitlines()) if i != 5) + "\n"},
     {}, 2, "{tmp}/f.csv, row 6, column 'date': '2000-06-01': gap in the calendar: follows '2000-04-01' in series "
     "'f', 1 monthly step missing; add the missing rows (an empty value is filled by missing='interpolate' or "
     "'ffill')"),
    ("csv", "a row longer than the header", _FORECAST, {"f.csv": _with_row(3, "2000-04-01,4,9")}, {}, 2,
     "{tmp}/f.csv, row 5: row has 3 cells but the header has 2 columns"),
    ("csv", "an unterminated quote", _FORECAST, {"f.csv": _with_row(3, '2000-04-01,"4')}, {}, 2,
     "{tmp}/f.csv, row 5: a quote opened on this row is never closed: the 56 lines after it would be one cell; "
     "close the quote or remove it"),
    ("csv", "a stray quote closed rows later", _FORECAST,
     {"f.csv": _with_row(3, '2000-04-01,"4').replace("2000-07-01,112", '2000-07-01,112"')}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': a quoted cell runs over 4 lines (a quote opened here is closed only 3 "
     "rows later); close the quote on this row or remove it"),
    ("csv", "a cell over 128 KiB", _FORECAST, {"f.csv": _monthly(12) + '2001-01-01,"' + "9" * 140_000 + "\n"}, {}, 2,
     "{tmp}/f.csv, row 14: a cell longer than 131,072 characters (the csv reader's limit) starts here; is a quote "
     "opened on this row never closed?"),
    ("csv", "a missing series id", _FORECAST,
     {"f.csv": "series_id,date,value\n" + "".join(f"{'a' if i != 3 else ''},2000-{i + 1:02d}-01,{i}\n"
                                                  for i in range(12))}, {}, 2,
     "{tmp}/f.csv, row 5, column 'series_id': missing series id"),
    ("csv", "one row per series", _FORECAST, {"f.csv": "series_id,date,value\na,2000-01-01,1\nb,2000-01-01,2\n"},
     {}, 2, "{tmp}/f.csv, column 'date': cannot infer the frequency from a single row per series; pass frequency="),
    ("csv", "too short for auto's inner folds", [*_FORECAST, "--horizon", "6"], {"f.csv": _monthly(20)}, {}, 2,
     "{tmp}/f.csv: series 'f' has 20 steps, too short: window.lookback = 32, window.horizon = 6 (held out), "
     "window.stride = 1, split.validation = 0.15, evaluate.inner_folds = auto (model.recipe = auto: at least 2) need at least 24 "
     "steps per series; shorten the window or the horizon, or use fewer folds"),
    ("csv", "too short for the window", [*_FORECAST, "--horizon", "6", "--set", "model.recipe=manual"],
     {"f.csv": _monthly(24)}, {}, 2,
     "{tmp}/f.csv: series 'f' has 24 steps, too short: window.lookback = 32, window.horizon = 6 (held out), "
     "window.stride = 1, split.validation = 0.15 need at least 50 steps per series; shorten the window or the "
     "horizon, or use fewer folds"),
    ("csv", "log of a zero", [*_FORECAST, "--set", "model.recipe=manual", "--set", "preprocess.log=true"],
     {"f.csv": _with_row(9, "2000-10-01,0")}, {}, 2,
     "{tmp}/f.csv, row 11, column 'value': series 'f' holds 0: preprocess.log = true needs every value > 0; set "
     "preprocess.log = false, or shift the series above zero"),
    ("csv", "log of negatives", [*_FORECAST, "--set", "model.recipe=manual", "--set", "preprocess.log=true"],
     {"f.csv": _monthly(value=lambda i: i - 30)}, {}, 2,
     "{tmp}/f.csv, row 2, column 'value': series 'f' holds -30 (and 30 more values <= 0): preprocess.log = true "
     "needs every value > 0; set preprocess.log = false, or shift the series above zero"),
    ("csv", "a missing file", ["run", "forecast", "--path", "{tmp}/nope.csv"], {}, {}, 2,
     "{tmp}/nope.csv: file not found"),
    ("m4", "first column not V1", _M4_RUN, {"M-train.csv": "id,V2\nM1,1\n"}, {}, 2,
     "{tmp}/M-train.csv, row 1: not an M4 wide file: the first column must be 'V1' (the series id), found 'id'"),
    ("m4", "a header only", _M4_RUN, {"M-train.csv": "V1,V2,V3\n"}, {}, 2,
     "{tmp}/M-train.csv: no data rows below the header"),
    ("m4", "a row longer than its header", _M4_RUN, {"M-train.csv": _m4(_M4_ROW, "M2," + "1," * 61 + "1")}, {}, 2,
     "{tmp}/M-train.csv, row 3, column 'V1': 'M2': row has 63 cells but the header has 61 columns (V1..V61); an M4 "
     "row is never longer than its header"),
    ("m4", "a hole in a row", _M4_RUN, {"M-train.csv": _m4(_M4_ROW.replace(",100,", ",,", 1))}, {}, 2,
     "{tmp}/M-train.csv, row 2, column 'V2': empty cell before the row's last value; M4 rows are left-aligned, "
     "padded only at the end"),
    ("m4", "text as a value", _M4_RUN, {"M-train.csv": _m4(_M4_ROW.replace(",101,", ",abc,", 1))}, {}, 2,
     "{tmp}/M-train.csv, row 2, column 'V3': 'abc': not a number"),
    ("m4", "1e999", _M4_RUN, {"M-train.csv": _m4(_M4_ROW.replace(",101,", ",1e999,", 1))}, {}, 2,
     "{tmp}/M-train.csv, row 2, column 'V3': '1e999': out of range: beyond float64's largest value (about 1.8e308)"),
    ("m4", "1_000", _M4_RUN, {"M-train.csv": _m4(_M4_ROW.replace(",101,", ",1_000,", 1))}, {}, 2,
     "{tmp}/M-train.csv, row 2, column 'V3': '1_000': " + _FORM),
    ("m4", "an id twice", _M4_RUN, {"M-train.csv": _m4(_M4_ROW, _M4_ROW)}, {}, 2,
     "{tmp}/M-train.csv, row 3, column 'V1': 'M1': series id appears twice: row 2 has it too"),
    ("m4", "ids of two frequencies", _M4_RUN, {"M-train.csv": _m4(_M4_ROW, _M4_ROW.replace("M1", "Y1"))}, {}, 2,
     "{tmp}/M-train.csv, row 2, column 'V1': 'M1': cannot infer the frequency from the ids (M4 ids start with one "
     "of Y, Q, M, W, D, H, all the same letter); pass frequency="),
    ("m4", "a test file without a train series", [*_M4_RUN, "--test", "{tmp}/M-test.csv", "--horizon", "2"],
     {"M-train.csv": _m4(_M4_ROW), "M-test.csv": "V1,V2,V3\nM1,1,2\nM9,1,2\n"}, {}, 2,
     "{tmp}/M-test.csv, row 3, column 'V1': 'M9': series is not in the train file"),
    ("m4", "a test file of the wrong width", [*_M4_RUN, "--test", "{tmp}/M-test.csv"],
     {"M-train.csv": _m4(_M4_ROW), "M-test.csv": "V1,V2,V3\nM1,1,2\n"}, {}, 2,
     "{tmp}/M-test.csv: holds 2 steps per series but window.horizon = 1; the test file is the held-out horizon: "
     "pass --horizon 2"),
    ("m4", "log of a zero", [*_M4_RUN, "--set", "model.recipe=manual", "--set", "preprocess.log=true"],
     {"M-train.csv": _m4(_M4_ROW.replace(",101,", ",0,", 1))}, {}, 2,
     "{tmp}/M-train.csv, row 2, column 'V3': series 'M1' holds 0: preprocess.log = true needs every value > 0; set "
     "preprocess.log = false, or shift the series above zero"),
    ("corpus", "a missing corpus", ["run", "embed", "--corpus", "{tmp}/nope.txt"], {}, {}, 2,
     "{tmp}/nope.txt: no such file or directory"),
    ("corpus", "an empty corpus", ["run", "embed", "--corpus", "{tmp}/c.txt"], {"c.txt": ""}, {}, 2,
     "{tmp}/c.txt: the corpus is empty: no document has any text"),
    ("corpus", "a folder without text files", ["run", "embed", "--corpus", "{tmp}/d"], {"d": None}, {}, 2,
     "{tmp}/d: no .txt, .txt.gz, .txt.bz2 files in this directory"),
    ("predict", "a missing history", ["predict", "--model", "models:/x@champion", "--input", "{tmp}/nope.csv"], {}, {},
     2, "{tmp}/nope.csv: file not found"),
    ("predict", "a history with a gap", _PREDICT,
     {"f.csv": "\n".join(l for i, l in enumerate(_monthly().splitlines()) if i != 5) + "\n"}, {}, 2,
     "{tmp}/f.csv, row 6, column 'date': '2000-06-01': gap in the calendar: follows '2000-04-01' in series 'f', 1 "
     "monthly step missing; add the missing rows (an empty value is filled by missing='interpolate' or 'ffill')"),
    ("predict", "a history with 1_000", _PREDICT, {"f.csv": _with_row(3, "2000-04-01,1_000")}, {}, 2,
     "{tmp}/f.csv, row 5, column 'value': '1_000': " + _FORM),
    ("predict", "a history with an unterminated quote", _PREDICT, {"f.csv": _with_row(50, '2004-03-01,"1')}, {}, 2,
     "{tmp}/f.csv, row 52: a quote opened on this row is never closed: the 9 lines after it would be one cell; "
     "close the quote or remove it"),
    ("predict", "an output of unknown format", [*_PREDICT, "--output", "{tmp}/out.xlsx"], {"f.csv": _monthly()}, {},
     2, "{tmp}/out.xlsx: unknown output format '.xlsx'; use .parquet or .csv"),
    ("environment", "SEQFLOW_ARTIFACTS at a file", _FORECAST, {"f.csv": _monthly(), "file": "x"},
     {"SEQFLOW_ARTIFACTS": "{tmp}/file"}, 2,
     "SEQFLOW_ARTIFACTS = '{tmp}/file': not a folder (a file is there); point it at a folder, or at a path that does not "
     "exist yet"),
    ("environment", "SEQFLOW_SERVER_IDLE_SECONDS=soon", _FORECAST, {"f.csv": _monthly()},
     {"SEQFLOW_SERVER_IDLE_SECONDS": "soon"}, 2, _BAD_ID.format("soon")),
    ("environment", "SEQFLOW_SERVER_IDLE_SECONDS=-1", _FORECAST, {"f.csv": _monthly()},
     {"SEQFLOW_SERVER_IDLE_SECONDS": "-1"}, 2, _BAD_ID.format("-1")),
    ("environment", "SEQFLOW_SERVER_IDLE_SECONDS=nan", ["run", "embed", "--corpus", "{tmp}/c.txt"],
     {"c.txt": "a b c\n"}, {"SEQFLOW_SERVER_IDLE_SECONDS": "nan"}, 2, _BAD_ID.format("nan")),
    ("environment", "a 0-byte prefect.db", _FORECAST, {"f.csv": _monthly(), "art/prefect/prefect.db": b""},
     {"SEQFLOW_ARTIFACTS": "{tmp}/art"}, 1,
     "{tmp}/art/prefect/prefect.db: an empty file (0 bytes) where Prefect's database was expected; " + _STORE),
    ("environment", "a prefect.db that is not SQLite", _FORECAST,
     {"f.csv": _monthly(), "art/prefect/prefect.db": b"not a database" * 20}, {"SEQFLOW_ARTIFACTS": "{tmp}/art"}, 1,
     "{tmp}/art/prefect/prefect.db: not an SQLite database (file is not a database) where Prefect's database was "
     "expected; " + _STORE),
    ("environment", "a 0-byte mlflow.db", _FORECAST, {"f.csv": _monthly(), "art/mlflow/mlflow.db": b""},
     {"SEQFLOW_ARTIFACTS": "{tmp}/art"}, 1,
     "{tmp}/art/mlflow/mlflow.db: an empty file (0 bytes) where the MLflow store was expected; " + _STORE),
    ("environment", "an mlflow.db that is not SQLite", _PREDICT,
     {"f.csv": _monthly(), "art/mlflow/mlflow.db": b"not a database" * 20}, {"SEQFLOW_ARTIFACTS": "{tmp}/art"}, 1,
     "{tmp}/art/mlflow/mlflow.db: not an SQLite database (file is not a database) where the MLflow store was "
     "expected; " + _STORE),
]


@pytest.fixture(scope="module")
def presets(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("presets")
    (folder / "bad.toml").write_text("seed = 3\n[window\n")
    return folder


def _snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize(("command", "args", "expected"), BATTERY, ids=[" ".join([c, *a]) for c, a, _ in BATTERY])
def test_bad_input_is_refused_in_one_line_before_anything_starts(command, args, expected, presets, artifacts_root):
    args = [a.replace("{tmp}", str(presets)) for a in args]
    before = _snapshot(Path(artifacts_root))
    result = CliRunner().invoke(app, ["run", command, *args])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: config: " + expected.replace("{tmp}", str(presets))]
    assert _snapshot(Path(artifacts_root)) == before  # nothing written, no store or run opened


def test_the_battery_is_large():
    assert len(BATTERY) >= 40



def materialise(folder: Path, files: dict[str, str | bytes | None]) -> None:
    """Write a case's files (None: a folder) under ``folder``."""
    for name, content in files.items():
        path = folder / name
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def environment(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """A case's environment settings, with Prefect's home following SEQFLOW_ARTIFACTS as at start-up."""
    out = {k: v.replace("{tmp}", str(folder)) for k, v in env.items()}
    if "SEQFLOW_ARTIFACTS" in out:
        out.setdefault("PREFECT_HOME", str(Path(out["SEQFLOW_ARTIFACTS"]) / "prefect"))
        out.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(Path(out["SEQFLOW_ARTIFACTS"]) / "prefect" / "results"))
    return out


@pytest.mark.parametrize(("kind", "name", "argv", "files", "env", "code", "expected"), INPUTS,
                         ids=[f"{c[0]}: {c[1]}" for c in INPUTS])
def test_a_bad_file_store_or_environment_is_one_line_and_writes_nothing(
    kind, name, argv, files, env, code, expected, tmp_path, artifacts_root, monkeypatch
):
    materialise(tmp_path, files)
    for key, value in environment(tmp_path, env).items():
        monkeypatch.setenv(key, value)
    before = (_snapshot(Path(artifacts_root)), _snapshot(tmp_path))
    result = CliRunner().invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: " + expected.replace("{tmp}", str(tmp_path))]
    assert (_snapshot(Path(artifacts_root)), _snapshot(tmp_path)) == before  # nothing written, no store or run


def test_the_battery_is_large_and_covers_every_kind_of_input():
    assert len(BATTERY) + len(INPUTS) >= 120
    assert {kind for kind, *_ in INPUTS} == {"csv", "m4", "corpus", "predict", "environment"}
