"""The bad-input battery: every setting a user can get wrong is refused in one line, exit code 2,
before anything is written or any run opened (issue: settings that failed a minute after they were
accepted). The expected lines are the messages themselves, so a vaguer message fails the test."""

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

