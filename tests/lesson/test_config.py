"""The lesson's config: defaults, presets, one comment per field, and one-line errors naming the key."""

import pytest
from pydantic import BaseModel

from tasks.config import ConfigError, field_comments, load_config
from tasks.errors import InputError
from tasks.nets.config import CELLS
from tasks.lesson.config import LessonConfig
from tasks.paths import configs_dir


def load(preset=None, overrides=()):
    return load_config(LessonConfig, preset, list(overrides))


def test_defaults_are_the_full_sweep_with_one_budget():
    cfg = load()
    assert cfg.sweep.lengths == (10, 25, 50, 100)
    assert cfg.model.cells == CELLS
    assert len(cfg.sweep.seeds) >= 2
    assert cfg.runs == 4 * 5 * len(cfg.sweep.seeds)
    assert cfg.train.patience >= cfg.train.epochs  # the same epochs for every model: no early stop
    assert cfg.train.lr_patience == 0
    assert cfg.tracking.experiment == "seqflow-lesson"


@pytest.mark.parametrize("name", ["lesson.toml", "lesson_demo.toml"])
def test_shipped_presets_load(name):
    assert isinstance(load(configs_dir() / name), LessonConfig)


def test_the_full_preset_is_the_defaults():
    assert load(configs_dir() / "lesson.toml") == load()


def test_lists_from_set_and_toml(tmp_path):
    assert load(None, ["sweep.lengths=10,50", "sweep.seeds=3"]).sweep.lengths == (10, 50)
    assert load(None, ["sweep.seeds=3"]).sweep.seeds == (3,)
    assert load(None, ["sweep.lengths=[20, 40]"]).sweep.lengths == (20, 40)
    preset = tmp_path / "p.toml"
    preset.write_text("[sweep]\nlengths = [5, 6]\nseeds = [1, 2, 3]\n[task]\nkind = \"copy\"\n")
    cfg = load(preset)
    assert (cfg.sweep.lengths, cfg.sweep.seeds, cfg.task.kind) == ((5, 6), (1, 2, 3), "copy")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sweep.lengths=1", "sweep.lengths = 1: length 1: must be between 2 and 10,000 steps"),
        ("sweep.lengths=10,10", "sweep.lengths = '10,10': lengths [10, 10] name a length twice"),
        ("sweep.lengths=a,b", "sweep.lengths = 'a,b': expected whole numbers separated by commas, e.g. 10,25,50"),
        ("sweep.seeds=1,1", "sweep.seeds = '1,1': seeds [1, 1] name a seed twice"),
        ("sweep.seeds=-1", "sweep.seeds = -1: seeds [-1]: every seed must be between 0 and 4294967295"),
        ("sweep.solved_mse=0", "sweep.solved_mse = 0: Input should be greater than 0"),
        ("task.kind=sum", "task.kind = 'sum': Input should be 'adding' or 'copy'"),
        ("task.n_test=0", "task.n_test = 0: Input should be greater than or equal to 1"),
        ("gradients.batch=2000",
         "gradients.batch = 2000 is more than the 1000 test sequences (task.n_test); lower it or draw more test sequences"),
        ("task.n_train=1000000",
         "task: 1,001,500 sequences × the longest length 100 = 100,150,000 steps; at most 50,000,000"),
        ("model.cells=lstm,transformer", "unknown cell 'transformer'; valid cells: rnn, lstm, gru, manual_rnn"),
        ("sweep.length=10", "sweep.length: unknown key"),
        ("train.epochs=0", "train.epochs = 0: Input should be greater than 0"),
    ],
)
def test_bad_settings_name_key_value_and_rule(override, message):
    with pytest.raises(ConfigError) as info:
        load(None, [override])
    assert message in str(info.value)
    assert isinstance(info.value, InputError)


def test_every_config_field_has_its_comment():
    missing = []

    def walk(schema, prefix):
        comments = field_comments(schema)
        for name, field in schema.model_fields.items():
            if not comments.get(name):
                missing.append(f"{prefix}{name}")
            if isinstance(field.default, BaseModel):
                walk(type(field.default), f"{prefix}{name}.")

    walk(LessonConfig, "")
    assert missing == []
