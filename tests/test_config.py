import re
from pathlib import Path

import pytest

from tasks.config import ConfigError, describe_schema, field_comments, flatten, load_config, parse_override
from tasks.errors import InputError
from tasks.forecasting.config import CsvSource, ForecastConfig, M4Source
from tasks.nets.config import CELLS
from tasks.paths import configs_dir


def load(preset=None, overrides=()):
    return load_config(ForecastConfig, preset, list(overrides))


def test_defaults_are_valid_and_frozen():
    cfg = load()
    # One cell, chosen among by model.recipe = auto's inner backtests (three recipes of it).
    assert (cfg.model.recipe, cfg.model.cells) == ("auto", ("gru",))
    assert set(cfg.model.cells) <= set(CELLS)
    assert cfg.source == CsvSource(path="data/alcohol-sales.csv")  # the shipped sales series
    with pytest.raises(Exception):
        cfg.seed = 1  # type: ignore[misc]


def test_shipped_presets_load():
    for preset in sorted(configs_dir().glob("*.toml")):
        if preset.name.startswith("lesson") or preset.name in ("demo.toml", "sine.toml"):
            continue  # the lesson's and the sine study's presets: tests/lesson, tests/study
        assert isinstance(load(preset), ForecastConfig), preset


def test_overrides_apply_after_the_preset(tmp_path: Path):
    preset = tmp_path / "p.toml"
    preset.write_text("[window]\nlookback = 10\n[model]\nunits = 8\n")
    cfg = load(preset, ["window.lookback=12", "model.cells=lstm,gru", "train.clipnorm=0.5"])
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
        ("window.lookbak=3", "window.lookbak: unknown key (not a setting of this config"),
        ("model.activation=sigmoid", "unknown activation 'sigmoid'; valid activations: tanh, relu, leaky_relu, elu"),
        ("split.validation=1", "split.validation = 1: Input should be less than 1"),
        ("seed=x", "seed = 'x': Input should be a valid integer"),
    ],
)
def test_bad_settings_name_key_value_and_rule(override, message):
    with pytest.raises(ConfigError) as info:
        load(None, [override])
    assert message in str(info.value)
    assert isinstance(info.value, InputError)


def test_an_unknown_key_names_the_listing_the_caller_gives_and_no_command_otherwise():
    with pytest.raises(ConfigError) as named:
        load_config(ForecastConfig, None, ["window.lookbak=3"], listing="tool settings forecast")
    assert str(named.value) == ("window.lookbak: unknown key (not a setting of this config; "
                                "`tool settings forecast` lists them)")
    with pytest.raises(ConfigError) as bare:
        load(None, ["window.lookbak=3"])
    assert str(bare.value) == "window.lookbak: unknown key (not a setting of this config)"


def test_the_generic_loader_names_no_product_command():
    # Each flow's CLI names its own listing; the shared loader cannot know which flow it loads.
    assert "seqflow config" not in Path(load_config.__code__.co_filename).read_text()


def test_override_needs_key_and_value():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load(None, ["window.lookback"])
    with pytest.raises(ConfigError, match="seed = {'x': 1}: Input should be a valid integer"):
        load(None, ["seed.x=1"])


def test_missing_preset_and_directory_are_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory; give a .toml file"):
        load(tmp_path)


def test_flatten_gives_dotted_string_params():
    flat = flatten(load(None, ["model.cells=lstm,gru"]))
    assert flat["model.cells"] == "lstm,gru"
    assert flat["window.lookback"] == "32"
    assert flat["source.kind"] == "csv"
    assert all(isinstance(v, str) for v in flat.values())


def test_a_value_cannot_be_used_as_a_section(tmp_path: Path):
    preset = tmp_path / "p.toml"
    preset.write_text("seed = 3\n")
    with pytest.raises(ConfigError, match="'seed' is a value, not a section"):
        load(preset, ["seed.x=1"])


@pytest.mark.parametrize("word", ["off", "none", "OFF"])
def test_optional_settings_can_be_switched_off_from_set_and_toml(word, tmp_path: Path):
    assert load(None, [f"train.clipnorm={word}"]).train.clipnorm is None
    preset = tmp_path / "p.toml"
    preset.write_text(f'[train]\nclipnorm = "{word}"\n')
    assert load(preset).train.clipnorm is None


def test_off_is_refused_where_a_setting_is_not_optional():
    with pytest.raises(ConfigError, match="model.units = 'off': Input should be a valid integer"):
        load(None, ["model.units=off"])


def test_presets_are_strictly_typed(tmp_path: Path):
    preset = tmp_path / "p.toml"
    preset.write_text('[model]\nunits = "32"\n')
    with pytest.raises(ConfigError, match="model.units = '32': Input should be a valid integer"):
        load(preset)


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ConfigError, match="split.validation = .*Input should be a finite number"):
        load(None, [f"split.validation={value}"])


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

    walk(ForecastConfig, "")
    for kind in (CsvSource, M4Source):  # the other members of the source union
        walk(kind, "source.")
    assert missing == []


def test_a_source_without_kind_is_a_csv_file_and_kind_picks_the_section():
    assert load(None, ["source.path=data/monthly-milk.csv"]).source == CsvSource(path="data/monthly-milk.csv")
    cfg = load(None, ["source.kind=csv", "source.path=data/monthly-milk.csv", "window.horizon=12"])
    assert isinstance(cfg.source, CsvSource) and cfg.source.missing == "error"
    assert cfg.fold_step == 12
    m4 = load(None, ["source.kind=m4", 'source.path="H-train.csv"', 'source.test_path="H-test.csv"'])
    assert isinstance(m4, ForecastConfig) and m4.source.test_path == "H-test.csv"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("source.kind=sine", "source.kind = 'sine': the sine wave is the sine study's source (seqflow run study)"),
        ("split.mode=fractions", "split.mode: the forecasting flow always holds out the last window.horizon steps"),
        ("split.train=0.7", "split.train: the forecasting flow always holds out the last window.horizon steps"),
        ("window.target=shifted", "window.target: unknown key"),
        ("evaluate.generate_steps=10", "evaluate.generate_steps: unknown key"),
    ],
)
def test_the_sine_studys_settings_are_refused_pointing_at_the_study(override, message):
    with pytest.raises(ConfigError) as info:
        load(None, [override])
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["source.kind=m4"], "source.path: required (it has no default)"),
        (["source.kind=csv", "source.path=a.csv", "source.noise_std=1"], "source.noise_std: unknown key"),
        (["source.kind=m4", "source.path=a.csv", "source.missing=error"], "source.missing: unknown key"),
        (["source.kind=parquet"], "source.kind = 'parquet': unknown source; valid kinds: csv, m4"),
        (["source.kind=m4", "source.path=a.csv", "evaluate.fold_step=0"],
         "evaluate.fold_step = 0: Input should be greater than 0"),
    ],
)
def test_errors_inside_the_source_union_name_the_key_without_the_kind_tag(overrides, message):
    with pytest.raises(ConfigError) as info:
        load(None, overrides)
    assert message in str(info.value)
    assert "source.csv." not in str(info.value) and "source.sine." not in str(info.value)


def test_describe_schema_follows_the_chosen_source_kind():
    rows = {key: (value, default) for key, value, default, _ in
            describe_schema(ForecastConfig, load(None, ["source.kind=csv", "source.path=data/monthly-milk.csv"]))}
    assert rows["source.kind"] == ("csv", "csv")
    assert rows["source.path"] == ("data/monthly-milk.csv", "(required)")
    assert "source.test_path" not in rows
    assert rows["split.validation"] == ("0.15", "0.15")


def test_describe_schema_lists_value_default_and_comment():
    rows = {key: (value, default, comment) for key, value, default, comment in
            describe_schema(ForecastConfig, load(None, ["window.lookback=24"]))}
    assert rows["window.lookback"] == ("24", "32", "input steps the model sees per window")
    assert rows["train.clipvalue"][:2] == ("off", "off")
    assert rows["model.cells"][0] == "gru"
    assert rows["model.recipe"][0] == "auto"


MILK = ["source.kind=csv", "source.path=data/monthly-milk.csv"]


def test_strategy_scope_ensemble_and_preprocessing_keys_are_accepted():
    cfg = load(None, [*MILK, "model.recipe=manual", "model.strategy=recursive", "model.scope=local", "model.ensemble=5",
                      "preprocess.deseasonalise=classical", "preprocess.log=true", "preprocess.level=seasonal"])
    assert (cfg.model.strategy, cfg.model.scope, cfg.model.ensemble) == ("recursive", "local", 5)
    assert (cfg.preprocess.deseasonalise, cfg.preprocess.log, cfg.preprocess.level) == ("classical", True, "seasonal")
    assert load(None, MILK).model.strategy == "direct" and load(None, MILK).model.scope == "global"


def test_train_loss_is_mse_unless_set():
    assert load(None, MILK).train.loss == "mse"
    assert load(None, [*MILK, "train.loss=mae"]).train.loss == "mae"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.strategy=both", "model.strategy = 'both': Input should be 'direct' or 'recursive'"),
        ("model.scope=regional", "model.scope = 'regional': Input should be 'local' or 'global'"),
        ("model.ensemble=0", "model.ensemble = 0: Input should be greater than or equal to 1"),
        ("preprocess.deseasonalise=stl", "preprocess.deseasonalise = 'stl': Input should be 'off' or 'classical'"),
        ("preprocess.level=first", "preprocess.level = 'first': Input should be 'off', 'last' or 'seasonal'"),
        ("train.loss=mape", "train.loss = 'mape': Input should be 'mse', 'mae' or 'huber'"),
    ],
)
def test_bad_strategy_scope_ensemble_and_preprocessing_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as info:
        load(None, [*MILK, override])
    assert message in str(info.value)


def test_window_multi_step_still_means_model_strategy():
    manual = [*MILK, "model.recipe=manual"]
    assert load(None, [*manual, "window.multi_step=recursive"]).model.strategy == "recursive"
    with pytest.raises(ConfigError, match="window.multi_step = 'recursive' .* contradicts model.strategy = 'direct'"):
        load(None, [*manual, "window.multi_step=recursive", "model.strategy=direct"])


def test_calendar_covariates_are_off_by_default_and_take_auto_or_a_list():
    assert load(None, MILK).preprocess.calendar is None
    assert load(None, [*MILK, "preprocess.calendar=auto"]).preprocess.calendar == "auto"
    assert load(None, [*MILK, "preprocess.calendar=day_of_week,month_of_year"]).preprocess.calendar == (
        "day_of_week", "month_of_year")
    assert load(None, [*MILK, "preprocess.calendar=auto", "preprocess.calendar=off"]).preprocess.calendar is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["preprocess.calendar=auto", "model.strategy=recursive"],
         "preprocess.calendar = 'auto' needs model.strategy = 'direct'"),
        (["preprocess.calendar=moon"], "preprocess.calendar = 'moon': unknown calendar feature 'moon'; valid: auto, off, "
                                       "hour_of_day, day_of_week, week_of_year, month_of_year"),
        (["source.kind=m4", "source.path=Hourly-train.csv", "preprocess.calendar=auto"],
         "preprocess.calendar = 'auto': M4 files carry no dates"),
    ],
)
def test_calendar_covariates_are_refused_at_load_where_they_cannot_work(overrides, message):
    base = [] if overrides[0].startswith("source.kind=m4") else MILK
    with pytest.raises(ConfigError) as info:
        load(None, [*base, *overrides])
    assert message in str(info.value)
    assert "\n" not in str(info.value).strip()


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string, every control character escaped (as ``--set`` would need it)."""
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 32 or ord(c) == 127 or c in '"\\' else c for c in text) + '"'


@pytest.mark.parametrize("schema", ["forecast", "study", "embed", "lesson"])
@pytest.mark.parametrize("name", ["../../../../tmp/escape", "/tmp/absolute", "a/b", "a\\b", "..", "v1..2",
                                  "nul\x00name", "line\nbreak", "del\x7f"], ids=repr)
def test_an_experiment_name_that_could_be_a_path_is_refused_naming_the_rule(schema, name):
    from flows.cli.options import Flow
    from flows.cli.options import schema as schema_of

    with pytest.raises(ConfigError) as info:
        load_config(schema_of(Flow(schema)), None, [f"tracking.experiment={_toml_string(name)}"])
    assert str(info.value) == (f"tracking.experiment = {name!r}: an experiment name cannot be a path: "
                               "no '/', '\\', '..' or control characters")


@pytest.mark.parametrize("name", ["seqflow-forecast", "My experiment 2", "sales.v2", "café", "team:milk"])
def test_ordinary_experiment_names_are_kept(name):
    assert load(None, [f'tracking.experiment="{name}"']).tracking.experiment == name


def _int_keys(schema, prefix: str = "") -> list[tuple[str, bool]]:
    """Every integer setting of ``schema`` (``(key, is_a_list)``), sections followed, a source's default kind."""
    import typing

    from pydantic import BaseModel

    found = []
    for name, field in schema.model_fields.items():
        default = field.default
        if isinstance(default, BaseModel):
            found += _int_keys(type(default), f"{prefix}{name}.")
            continue
        annotation = field.annotation
        args = ({annotation} if typing.get_origin(annotation) is tuple
                else {a for a in typing.get_args(annotation) if a is not type(None)} or {annotation})
        if int in args and bool not in args:
            found.append((f"{prefix}{name}", False))
        elif any(typing.get_origin(a) is tuple and typing.get_args(a)[:1] == (int,) for a in args):
            found.append((f"{prefix}{name}", True))
    return found


_HUGE = 10_000_000_000_000_000_000_000  # past any C integer: crashed the run after `config show` accepted it


def _every_int_setting():
    from flows.cli.options import Flow
    from flows.cli.options import schema as schema_of

    return [(flow.value, key, listed) for flow in Flow for key, listed in _int_keys(schema_of(flow))]


@pytest.mark.parametrize(("flow", "key", "listed"), _every_int_setting(), ids=lambda v: str(v))
def test_every_integer_setting_has_an_upper_bound_named_at_load(flow, key, listed):
    from flows.cli.options import Flow
    from flows.cli.options import schema as schema_of

    value = f"[{_HUGE}]" if listed else str(_HUGE)
    with pytest.raises(ConfigError) as info:
        load_config(schema_of(Flow(flow)), None, [f"{key}={value}"])
    # Named as `key = value: rule`, or by a rule that ties it to another setting (`key: ...`, `key = value is ...`).
    assert re.match(rf"{re.escape(key)}( = |: )", str(info.value)), str(info.value)


def test_the_integer_settings_are_found():
    keys = {(flow, key) for flow, key, _ in _every_int_setting()}
    assert {("forecast", "train.batch_size"), ("forecast", "seed"), ("embed", "model.vector_size"),
            ("lesson", "sweep.seeds"), ("study", "window.lookback")} <= keys
    assert len(keys) > 50
