"""M4 wide files: left-aligned rows padded with empty cells, to the long layout with synthetic time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.forecasting.sources.m4 import SYNTHETIC_EPOCH, read_m4, synthetic_timestamps

TRAIN = '"V1","V2","V3","V4","V5"\n"H2","5","6","7",\n"H1","1","2","3","4"\n'
TEST = '"V1","V2","V3"\n"H1","10","11"\n"H2","20","21"\n'


def test_train_and_test_in_the_long_layout(tmp_path):
    train, test = tmp_path / "Hourly-train.csv", tmp_path / "Hourly-test.csv"
    train.write_text(TRAIN)
    test.write_text(TEST)
    data = read_m4(train, test)
    assert (data.frequency, data.season_length, data.horizon) == ("hourly", 24, 2)
    assert list(data.train.columns) == ["series_id", "timestamp", "value"]
    assert data.train["series_id"].tolist() == ["H1"] * 4 + ["H2"] * 3
    assert data.train["value"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert data.train["timestamp"].dtype == np.dtype("datetime64[s]")
    h1 = data.train[data.train["series_id"] == "H1"]["timestamp"]
    assert h1.tolist() == [SYNTHETIC_EPOCH + pd.Timedelta(hours=i) for i in range(4)]
    # The test part continues each series where its train part ends.
    t = data.test.set_index("series_id")
    assert t.loc["H1", "timestamp"].tolist() == [SYNTHETIC_EPOCH + pd.Timedelta(hours=i) for i in (4, 5)]
    assert t.loc["H2", "timestamp"].tolist() == [SYNTHETIC_EPOCH + pd.Timedelta(hours=i) for i in (3, 4)]
    assert t.loc["H2", "value"].tolist() == [20.0, 21.0]


def test_train_only_uses_the_m4_horizon_and_season(tmp_path):
    train = tmp_path / "Weekly-train.csv"
    train.write_text('"V1","V2","V3"\n"W1","1.5","2.5"\n')
    data = read_m4(train)
    # M4 scores weekly series with a season length of 1, not 52.
    assert (data.frequency, data.season_length, data.horizon, data.test) == ("weekly", 1, 13, None)


def test_synthetic_timestamps_step_by_the_frequency():
    months = synthetic_timestamps("monthly", 2, 2)
    assert pd.DatetimeIndex(months).strftime("%Y-%m-%d").tolist() == ["2000-03-01", "2000-04-01"]
    years = synthetic_timestamps("yearly", 840, 1)  # M4's longest yearly series stays in range
    assert pd.DatetimeIndex(years).year.tolist() == [2840]


def test_frequency_given_for_ids_without_a_prefix(tmp_path):
    train = tmp_path / "t.csv"
    train.write_text('"V1","V2","V3"\n"X1","1","2"\n')
    assert read_m4(train, frequency="daily").frequency == "daily"
