"""Sweep points: the grid and its seeded sample, each point checked before anything runs, the ranking."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from tasks.config import ConfigError, read_preset
from tasks.forecasting.config import ForecastConfig
from tasks.paths import PROJECT_ROOT
from tasks.sweeps.grid import SweepConfig, apply_point, expand, grid_size, point_configs, rank

GRID = {"model.cells": [["gru"], ["lstm"]], "model.units": [4, 8, 16], "window.lookback": [12, 24]}


def test_the_whole_grid_in_grid_order_last_key_fastest():
    points = expand(GRID)
    assert len(points) == grid_size(GRID) == 12
    assert points[0] == {"model.cells": ["gru"], "model.units": 4, "window.lookback": 12}
    assert points[1] == {"model.cells": ["gru"], "model.units": 4, "window.lookback": 24}
    assert points[-1] == {"model.cells": ["lstm"], "model.units": 16, "window.lookback": 24}
    assert len({str(p) for p in points}) == 12


def test_a_seeded_sample_is_distinct_repeatable_in_grid_order_and_depends_on_the_seed():
    whole = [str(p) for p in expand(GRID)]
    first = expand(GRID, sample=5, seed=3)
    assert first == expand(GRID, sample=5, seed=3)
    assert len({str(p) for p in first}) == 5
    positions = [whole.index(str(p)) for p in first]
    assert positions == sorted(positions)
    assert any(expand(GRID, sample=5, seed=s) != first for s in range(4, 10))
    assert expand(GRID, sample=50, seed=3) == expand(GRID)


def test_a_point_is_set_into_a_copy_of_the_base_preset():
    base = {"model": {"cells": ["gru"], "units": 8}, "seed": 42}
    data = apply_point(base, {"model.units": 4, "train.epochs": 2})
    assert data == {"model": {"cells": ["gru"], "units": 4}, "seed": 42, "train": {"epochs": 2}}
    assert base == {"model": {"cells": ["gru"], "units": 8}, "seed": 42}


def test_every_point_becomes_the_flows_config():
    base = read_preset(PROJECT_ROOT / "flows" / "configs" / "milk.toml")
    configs = point_configs(ForecastConfig, base, expand(GRID))
    assert [(c.model.cells, c.model.units, c.window.lookback) for c in configs][:2] == [
        (("gru",), 4, 12), (("gru",), 4, 24)]
    assert {c.train.epochs for c in configs} == {300}  # the rest is the base preset's


def test_bad_points_are_all_refused_naming_the_point_and_key():
    base = read_preset(PROJECT_ROOT / "flows" / "configs" / "milk.toml")
    points = expand({"model.units": [8, 0], "model.cell_size": [1]})
    with pytest.raises(ConfigError) as caught:
        point_configs(ForecastConfig, base, points)
    message = str(caught.value)
    assert "sweep point 1 of 2 (model.units=8, model.cell_size=1): model.cell_size: unknown key" in message
    assert "sweep point 2 of 2 (model.units=0, model.cell_size=1): " in message
    assert "model.units = 0" in message


def test_a_grid_key_through_a_value_is_refused_naming_the_point_and_key():
    with pytest.raises(ConfigError, match=r"sweep point 1 of 1 \(seed.x=1\): grid key 'seed.x': 'seed' is a value"):
        point_configs(ForecastConfig, {"seed": 1}, [{"seed.x": 1}])


@pytest.mark.parametrize(("grid", "rule"), [
    ({}, "at least one key"),
    ({"model.units": []}, "grid key 'model.units': needs at least one value"),
    ({"model..units": [1]}, "grid key 'model..units': must be dotted names"),
    ({"model.units": [4, 4]}, "grid key 'model.units': a value is given twice"),
])
def test_a_bad_grid_is_refused_with_its_rule(grid, rule):
    with pytest.raises(ValidationError, match=rule):
        SweepConfig(base="flows/configs/milk.toml", grid=grid)


def test_ranking_is_lowest_first_ties_in_point_order_and_failed_points_unranked():
    assert rank([2.0, None, 1.0, math.nan, 1.0, math.inf, 0.5]) == [6, 2, 4, 0]


def test_a_preset_written_as_toml_reads_back_as_the_same_data():
    import tomllib

    from tasks.sweeps.preset import to_toml

    data = read_preset(PROJECT_ROOT / "flows" / "configs" / "milk.toml")
    data = apply_point(data, {"model.cells": ["lstm", "gru"], "train.learning_rate": 0.001, "source.path": 'a "b".csv',
                              "tracking.experiment": "ü x", "preprocess.calendar.month": True})
    text = to_toml(data, header="best point of a sweep\nMASE 0.5")
    assert text.startswith("# best point of a sweep\n# MASE 0.5\n")
    assert tomllib.loads(text) == data


def test_a_value_a_preset_cannot_hold_is_refused_naming_its_key():
    from tasks.sweeps.preset import to_toml

    with pytest.raises(ValueError, match=r"train.learning_rate = nan: a preset cannot hold a non-finite number"):
        to_toml({"train": {"learning_rate": math.nan}})


def test_a_points_score_is_its_best_models_baselines_left_out():
    from tasks.sweeps.grid import point_score

    rows = [{"kind": "baseline", "mase": 0.1}, {"kind": "model", "mase": 0.9}, {"kind": "model", "mase": 0.7},
            {"kind": "model", "mase": math.nan}]
    assert point_score(rows, "mase") == 0.7
    assert point_score(rows[:1] + rows[3:], "mase") is None
    # Under model.recipe = auto the point is what was chosen before its test, not its best recipe by test.
    auto = rows + [{"kind": "model", "mase": 0.8, "chosen": True}]
    assert point_score(auto, "mase") == 0.8


def test_keys_that_would_change_the_split_are_found_in_a_grid():
    from tasks.sweeps.grid import fixed_keys_in

    grid = {"model.units": [4], "window.horizon": [6], "source": [{}], "source.path": ["x.csv"]}
    assert fixed_keys_in(grid, ("window.horizon", "source.path")) == ["window.horizon", "source", "source.path"]


def test_unquoted_dotted_keys_in_the_grid_read_as_the_quoted_ones():
    import tomllib

    quoted = tomllib.loads('base = "b.toml"\n[grid]\n"model.units" = [4, 8]\n"train.epochs" = [2]\n')
    unquoted = tomllib.loads('base = "b.toml"\n[grid]\nmodel.units = [4, 8]\ntrain.epochs = [2]\n')
    assert unquoted != quoted
    assert SweepConfig.model_validate(unquoted, strict=True) == SweepConfig.model_validate(quoted, strict=True)
    assert SweepConfig.model_validate(unquoted, strict=True).grid == {"model.units": [4, 8], "train.epochs": [2]}
