from pathlib import Path

import pytest

from tasks.config import ConfigError, field_comments, flatten, load_config
from tasks.paths import configs_dir
from tasks.study.config import SineSource, StudyConfig


def load(preset=None, overrides=()):
    return load_config(StudyConfig, preset, list(overrides))


def test_defaults_are_the_clean_wave_and_one_period_generated():
    cfg = load()
    assert cfg.source == SineSource() and cfg.source.n_points == 1000
    assert cfg.generate_steps == 63 and cfg.season_length == 63  # one period of sin(x) sampled every 0.1
    assert flatten(cfg)["source.kind"] == "sine"
    with pytest.raises(Exception):
        cfg.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize("preset", ["demo.toml", "sine.toml"])
def test_the_study_presets_load(preset):
    assert isinstance(load(configs_dir() / preset), StudyConfig)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("window.horizon=2000",
         "window.horizon: lookback 32 + horizon 2000 = 2032 steps is longer than the training part (700 of 1000 points)"),
        ("split.train=0.9", "split.train + split.validation = 1.05 must be < 1 to leave a test part"),
        ("source.amplitude=-1", "source.amplitude = -1: Input should be greater than 0"),
        ("source.kind=csv", "source.kind = 'csv': Input should be 'sine'"),
        ("evaluate.generate_steps=500", "evaluate.generate_steps = 500 is longer than the test part (150 points)"),
        ("evaluate.ar_lags=400", "evaluate.ar_lags = 400 needs a training part of more than 801 points; it has 700"),
        ("model.strategy=direct", "model.strategy: unknown key"),
    ],
)
def test_bad_settings_name_key_value_and_rule(override, message):
    with pytest.raises(ConfigError) as info:
        load(None, [override])
    assert message in str(info.value)


def test_the_window_span_rule_is_stated_once_and_right_for_a_shifted_target():
    # The old copy said "lookback + horizon = 801" for a shifted target, whose span is lookback + 1.
    with pytest.raises(ConfigError) as info:
        load(None, ["window.target=shifted", "window.horizon=5", "window.lookback=800"])
    assert "window.lookback: lookback 800 + 1 (shifted target) = 801 steps is longer than the training part" in str(info.value)


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ConfigError, match="source.amplitude = .*Input should be a finite number"):
        load(None, [f"source.amplitude={value}"])


def test_every_config_field_has_its_comment():
    from pydantic import BaseModel

    missing = []

    def walk(schema, prefix):
        comments = field_comments(schema)
        for name, field in schema.model_fields.items():
            if not comments.get(name):
                missing.append(f"{prefix}{name}")
            if isinstance(field.default, BaseModel):
                walk(type(field.default), f"{prefix}{name}.")

    walk(StudyConfig, "")
    assert missing == []


def test_a_preset_overrides_the_wave(tmp_path: Path):
    preset = tmp_path / "p.toml"
    preset.write_text("[source]\nnoise_std = 0.1\nx_end = 150.0\n")
    cfg = load(preset, ["window.lookback=48"])
    assert (cfg.source.noise_std, cfg.source.n_points, cfg.window.lookback) == (0.1, 1500, 48)
