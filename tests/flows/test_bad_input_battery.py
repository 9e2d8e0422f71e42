"""The bad-input battery: every setting a user can get wrong is refused in one line, exit code 2,
before anything is written or any run opened (issue: settings that failed a minute after they were
accepted). The expected lines are the messages themselves, so a vaguer message fails the test."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

BATTERY = [
    (['--set', 'model.cells=lstm,bogus'],
     "model.cells = 'lstm,bogus': unknown cell 'bogus'; valid cells: rnn, lstm, gru, manual_rnn, peephole_lstm"),
    (['--set', 'window.lookback=0'],
     'window.lookback = 0: Input should be greater than 0'),
    (['--set', 'window.horizon=5000'],
     'window.horizon: lookback 32 + horizon 5000 = 5032 steps is longer than the training part (700 of 1000 points); shorten the window or lengthen the series'),
    (['--set', 'train.epoch=3'],
     'train.epoch: unknown key (not a setting of this config; `seqflow config show forecast` lists them)'),
    (['--set', 'window.stride=900'],
     'window.stride = 900: the validation part (steps 700..849) holds no whole window of lookback 32 + horizon 1 with windows starting every 900 steps; use a smaller stride or window'),
    (['--set', 'window.horizon=200'],
     'window.horizon: the validation part (steps 700..849, 150 steps) cannot hold a target of 200 steps (lookback 32 + horizon 200); shorten it or give the validation part more of the series'),
    (['--set', 'evaluate.ar_lags=800'],
     'evaluate.ar_lags = 800 needs a training part of more than 1601 points; it has 700'),
    (['--set', 'evaluate.season_length=900'],
     'evaluate.season_length = 900 reaches before the series start for the first test step (850); it must be at most 850'),
    (['--set', 'source.amplitude=inf'],
     'source.amplitude = inf: Input should be a finite number'),
    (['--set', 'source.amplitude=nan'],
     'source.amplitude = nan: Input should be a finite number'),
    (['--set', 'train.learning_rate=inf'],
     'train.learning_rate = inf: Input should be a finite number'),
    (['--set', 'train.learning_rate=0'],
     'train.learning_rate = 0: Input should be greater than 0'),
    (['--set', 'train.learning_rate=-1'],
     'train.learning_rate = -1: Input should be greater than 0'),
    (['--set', 'model.units=off'],
     "model.units = 'off': Input should be a valid integer"),
    (['--set', 'model.units="32"'],
     "model.units = '32': Input should be a valid integer"),
    (['--set', 'model.activation=sigmoid'],
     "model.activation = 'sigmoid': unknown activation 'sigmoid'; valid activations: tanh, relu, leaky_relu, elu"),
    (['--set', 'split.train=0.9'],
     'split.train + split.validation = 1.05 must be < 1 to leave a test part'),
    (['--set', 'split.validation=0'],
     'split.validation = 0: Input should be greater than 0'),
    (['--set', 'seed=-1'],
     'seed = -1: Input should be greater than or equal to 0'),
    (['--set', 'seed=x'],
     "seed = 'x': Input should be a valid integer"),
    (['--set', 'window.target=next'],
     "window.target = 'next': Input should be 'horizon' or 'shifted'"),
    (['--set', 'source.kind=excel'],
     "source.kind = 'excel': unknown source; valid kinds: sine, csv, m4"),
    (['--source', 'csv'],
     'source.path: required (it has no default)'),
    (['--source', 'csv', '--path', 'x.csv', '--set', 'source.amplitude=2'],
     'source.amplitude: unknown key (not a setting of this config; `seqflow config show forecast` lists them)'),
    (['--source', 'csv', '--path', 'x.csv', '--set', 'split.mode=fractions'],
     "split.mode = 'fractions' is for the sine source; a csv source holds out the last window.horizon steps of "
     "each series (split.mode = 'horizon')"),
    (['--source', 'csv', '--path', 'x.csv', '--set', 'source.missing=drop'],
     "source.missing = 'drop': Input should be 'error', 'interpolate' or 'ffill'"),
    (['--source', 'csv', '--path', 'x.csv', '--set', 'source.frequency=minutely'],
     "source.frequency = 'minutely': Input should be 'hourly', 'daily', 'weekly', 'monthly', 'quarterly' or 'yearly'"),
    (['--source', 'csv', '--path', 'x.csv', '--test', 'y.csv'],
     "--test y.csv: a test file goes with --source m4 (M4's wide files); a CSV holds out its last --horizon steps"),
    (['--path', 'x.csv'],
     '--path FILE: say what the file is with --source csv or --source m4'),
    (['--source', 'csv', '--path', 'x.csv', '--horizon', '0'],
     'window.horizon = 0: Input should be greater than 0'),
    (['--set', 'evaluate.folds=3'],
     "evaluate.folds and evaluate.fold_step are for split.mode = 'horizon' (rolling origins at the end of each "
     "series); the sine's fraction split has one test part"),
    (['--source', 'm4', '--path', 'x.csv', '--set', 'evaluate.baselines=naive,arima'],
     "evaluate.baselines = 'naive,arima': unknown baseline 'arima'; valid baselines: naive, seasonal_naive, "
     "naive2, holt_winters, holt_winters_damped, theta"),
    (['--set', 'split.mode=horizon', '--set', 'window.horizon=400'],
     'the series has 1000 steps, too short: window.lookback = 32, window.horizon = 400 (held out), '
     'window.stride = 1, split.validation = 0.15 need at least 1232 steps per series; shorten the window or the '
     'horizon, or use fewer folds'),
    (['--set', 'split.mode=horizon', '--set', 'window.target=shifted'],
     "window.target = 'shifted' trains on the input moved one step; a held-out horizon needs window.target = "
     "'horizon' (use model.strategy = 'recursive' for a one-step model fed back)"),
    (['--set', 'source.resolution=0'],
     'source.resolution = 0: Input should be greater than 0'),
    (['--set', 'source.x_end=-5'],
     'source.x_end = -5.0 must be greater than source.x_start = 0.0'),
    (['--set', 'source.noise_std=-0.1'],
     'source.noise_std = -0.1: Input should be greater than or equal to 0'),
    (['--set', 'model.layers=0'],
     'model.layers = 0: Input should be greater than or equal to 1'),
    (['--set', 'model.layers=9'],
     'model.layers = 9: Input should be less than or equal to 8'),
    (['--set', 'model.dropout=1'],
     'model.dropout = 1: Input should be less than 1'),
    (['--set', 'train.batch_size=0'],
     'train.batch_size = 0: Input should be greater than 0'),
    (['--set', 'train.epochs=0'],
     'train.epochs = 0: Input should be greater than 0'),
    (['--set', 'train.patience=0'],
     'train.patience = 0: Input should be greater than or equal to 1'),
    (['--set', 'train.clipnorm=0'],
     'train.clipnorm = 0: Input should be greater than 0'),
    (['--set', 'train.clipvalue=-1'],
     'train.clipvalue = -1: Input should be greater than 0'),
    (['--set', 'evaluate.generate_steps=0'],
     'evaluate.generate_steps = 0: Input should be greater than 0'),
    (['--set', 'evaluate.generate_steps=5000'],
     'evaluate.generate_steps = 5000 is longer than the test part (150 points)'),
    (['--set', 'evaluate.gradient_windows=0'],
     'evaluate.gradient_windows = 0: Input should be greater than 0'),
    (['--set', 'tracking.experiment=""'],
     "tracking.experiment = '': String should have at least 1 character"),
    (['--set', 'model.cells=""'],
     "model.cells = '': at least one cell is needed; valid cells: rnn, lstm, gru, manual_rnn, peephole_lstm"),
    (['--set', 'model.cells=lstm,lstm'],
     "model.cells = 'lstm,lstm': cells ['lstm', 'lstm'] name a cell twice"),
    (['--set', 'window=3'],
     'window = 3: Input should be a valid dictionary or instance of WindowConfig'),
    (['--set', 'seed.x=1'],
     "seed = {'x': 1}: Input should be a valid integer"),
    (['--set', 'window.lookback'],
     "--set 'window.lookback': expected KEY=VALUE, e.g. --set window.lookback=24"),
    (['--config', '{tmp}/missing.toml'],
     '--config {tmp}/missing.toml: no such file'),
    (['--config', '{tmp}'],
     '--config {tmp}: is a directory; give a .toml file (see flows/configs/)'),
    (['--config', '{tmp}/bad.toml'],
     "--config {tmp}/bad.toml: not valid TOML (Expected ']' at the end of a table declaration (at line 2, column 8))"),
    (['--set', 'train.progress=maybe'],
     "train.progress = 'maybe': Input should be a valid boolean"),
    (['--set', 'source.x_end=1e12'],
     'source: (x_end - x_start) / resolution = 10000000000000 points; at most 5,000,000'),
    (['--set', 'window.lookback=700'],
     'window.lookback: lookback 700 + horizon 1 = 701 steps is longer than the training part (700 of 1000 points); shorten the window or lengthen the series'),
    (['--set', 'window.stride=1.5'],
     'window.stride = 1.5: Input should be a valid integer'),
]


@pytest.fixture(scope="module")
def presets(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("presets")
    (folder / "bad.toml").write_text("seed = 3\n[window\n")
    return folder


def _snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize(("args", "expected"), BATTERY, ids=[" ".join(a) for a, _ in BATTERY])
def test_bad_input_is_refused_in_one_line_before_anything_starts(args, expected, presets, artifacts_root):
    args = [a.replace("{tmp}", str(presets)) for a in args]
    before = _snapshot(Path(artifacts_root))
    result = CliRunner().invoke(app, ["run", "forecast", *args])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: config: " + expected.replace("{tmp}", str(presets))]
    assert _snapshot(Path(artifacts_root)) == before  # nothing written, no store or run opened


def test_the_battery_is_large():
    assert len(BATTERY) >= 40

