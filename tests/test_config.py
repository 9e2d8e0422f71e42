from pathlib import Path

import pytest

from tasks.config import CELLS, ConfigError, ForecastConfig, flatten, load_config, parse_override
from tasks.paths import configs_dir


def test_defaults_are_valid_and_frozen():
    cfg = load_config()
    assert cfg.model.cells == CELLS
    assert cfg.source.n_points == 1000
    assert cfg.generate_steps == 63  # one period of sin(x) sampled every 0.1
    with pytest.raises(Exception):
        cfg.seed = 1  # type: ignore[misc]


def test_shipped_presets_load():
    for preset in sorted(configs_dir().glob("*.toml")):
        assert isinstance(load_config(preset), ForecastConfig), preset


def test_overrides_apply_after_the_preset(tmp_path: Path):
    preset = tmp_path / "p.toml"
    preset.write_text("[window]\nlookback = 10\n[model]\nunits = 8\n")
    cfg = load_config(preset, ["window.lookback=12", "model.cells=lstm,gru", "train.clipnorm=0.5"])
    assert cfg.window.lookback == 12
    assert cfg.model.units == 8
    assert cfg.model.cells == ("lstm", "gru")
    assert cfg.train.clipnorm == 0.5


def test_parse_override_reads_toml_values_and_bare_words():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=true") == (["a"], True)
    assert parse_override("model.cells=lstm") == (["model", "cells"], "lstm")
    assert parse_override('x=["a", "b"]') == (["x"], ["a", "b"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.cells=lstm,transformer",
         "model.cells = 'lstm,transformer': unknown cell 'transformer'; valid cells: rnn, lstm, gru, manual_rnn, peephole_lstm"),
        ("window.lookback=0", "window.lookback = 0: Input should be greater than 0"),
        ("window.lookbak=3", "window.lookbak: unknown key (not a setting of this config)"),
        ("model.activation=sigmoid", "unknown activation 'sigmoid'; valid activations: tanh, relu, leaky_relu, elu"),
        ("window.horizon=2000",
         "window.lookback + horizon = 2032 is longer than the training part (700 of 1000 points)"),
        ("split.train=0.9", "train + validation = 1.05 must be < 1 to leave a test part"),
        ("seed=x", "seed = 'x': Input should be a valid integer"),
    ],
)
def test_bad_settings_name_key_value_and_rule(override, message):
    extra = ["window.target=horizon"] if "horizon" in override else []
    with pytest.raises(ConfigError) as info:
        load_config(None, [*extra, override])
    assert message in str(info.value)


def test_override_needs_key_and_value():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(None, ["window.lookback"])
    with pytest.raises(ConfigError, match="seed = {'x': 1}: Input should be a valid integer"):
        load_config(None, ["seed.x=1"])


def test_missing_preset_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


def test_flatten_gives_dotted_string_params():
    flat = flatten(load_config(None, ["model.cells=lstm,gru"]))
    assert flat["model.cells"] == "lstm,gru"
    assert flat["window.lookback"] == "32"
    assert flat["source.kind"] == "sine"
    assert all(isinstance(v, str) for v in flat.values())


def test_a_value_cannot_be_used_as_a_section(tmp_path: Path):
    preset = tmp_path / "p.toml"
    preset.write_text("seed = 3\n")
    with pytest.raises(ConfigError, match="'seed' is a value, not a section"):
        load_config(preset, ["seed.x=1"])
