"""Every source into the one long layout, and the size rules checked after ingest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tasks.config import load_config
from tasks.errors import InputError
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.ingest import check_loaded, load_source, subject


def _cfg(*overrides: str) -> ForecastConfig:
    return load_config(ForecastConfig, None, list(overrides))


def _monthly_csv(path: Path, n: int, footer: bool = False) -> Path:
    dates = pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m")
    lines = ["month,sales"] + [f"{d},{100 + i % 12 * 3 + i}" for i, d in enumerate(dates)]
    if footer:
        lines += ["", "Source: a made-up shop"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_source_lands_in_the_same_long_layout(tmp_path):
    csv = load_source(_cfg("source.kind=csv", f"source.path={str(_monthly_csv(tmp_path / 'shop.csv', 30))!r}").source)
    (tmp_path / "train.csv").write_text('"V1","V2","V3","V4"\n"M1",1,2,3\n')
    m4 = load_source(_cfg("source.kind=m4", f"source.path={str(tmp_path / 'train.csv')!r}").source)
    for loaded in (csv, m4):
        assert list(loaded.frame.columns) == ["series_id", "timestamp", "value"]
        assert str(loaded.frame["timestamp"].dtype) == "datetime64[s]"
    assert (csv.frequency, csv.season_length, csv.frame["series_id"].iloc[0]) == ("monthly", 12, "shop")
    assert (m4.frequency, m4.season_length, m4.n_series) == ("monthly", 12, 1)


def test_trailing_junk_is_skipped_and_said(tmp_path):
    path = _monthly_csv(tmp_path / "shop.csv", 30, footer=True)
    loaded = load_source(_cfg("source.kind=csv", f"source.path={str(path)!r}").source)
    assert len(loaded.frame) == 30
    assert loaded.skipped == (f"{path}, row 32: empty row: ''",
                              f"{path}, row 33: text after the last data row (a footer): 'Source: a made-up shop'")


def test_m4_train_and_test_files_join_into_one_series_per_id(tmp_path):
    (tmp_path / "train.csv").write_text('"V1","V2","V3","V4","V5"\n"W1",1,2,3,4\n"W2",5,6,7,\n')
    (tmp_path / "test.csv").write_text('"V1","V2","V3"\n"W1",5,6\n"W2",8,9\n')
    cfg = _cfg("source.kind=m4", f"source.path={str(tmp_path / 'train.csv')!r}",
               f"source.test_path={str(tmp_path / 'test.csv')!r}")
    loaded = load_source(cfg.source)
    assert loaded.test_steps == 2 and loaded.frequency == "weekly"
    assert loaded.frame.groupby("series_id")["value"].apply(list).to_dict() == {
        "W1": [1, 2, 3, 4, 5, 6], "W2": [5, 6, 7, 8, 9]}


def test_a_test_file_of_another_width_than_the_horizon_is_refused(tmp_path):
    (tmp_path / "train.csv").write_text("V1,V2,V3\nH1,1,2\n")
    (tmp_path / "test.csv").write_text("V1,V2,V3\nH1,3,4\n")
    cfg = _cfg("source.kind=m4", f"source.path={str(tmp_path / 'train.csv')!r}",
               f"source.test_path={str(tmp_path / 'test.csv')!r}", "window.horizon=3")
    with pytest.raises(InputError) as info:
        check_loaded(cfg, load_source(cfg.source))
    assert str(info.value) == (f"{tmp_path / 'test.csv'}: holds 2 steps per series but window.horizon = 3; the test "
                               "file is the held-out horizon: pass --horizon 2")


def test_a_series_too_short_for_window_horizon_and_folds_is_refused_naming_all(tmp_path):
    path = tmp_path / "two.csv"
    rows = ["id,date,value"] + [f"long,{d:%Y-%m-%d},{i}" for i, d in enumerate(pd.date_range("2001-01-01", periods=80, freq="D"))]
    rows += [f"short,{d:%Y-%m-%d},{i}" for i, d in enumerate(pd.date_range("2001-01-01", periods=30, freq="D"))]
    path.write_text("\n".join(rows) + "\n")
    cfg = _cfg("source.kind=csv", f"source.path={str(path)!r}", "window.lookback=14", "window.horizon=7",
               "evaluate.folds=2", "model.recipe=manual")
    loaded = load_source(cfg.source)
    assert loaded.n_series == 2
    with pytest.raises(InputError) as info:
        check_loaded(cfg, loaded)
    assert str(info.value) == (
        f"{path}: series 'short' has 30 steps, too short: window.lookback = 14, window.horizon = 7 (held out), "
        "window.stride = 1, split.validation = 0.15, evaluate.folds = 2 (fold_step 7) need at least 42 steps per "
        "series; shorten the window or the horizon, or use fewer folds")
    # auto needs only its statistical forecasters to fit every origin (its networks shorten their lookback).
    auto = _cfg("source.kind=csv", f"source.path={str(path)!r}", "window.lookback=14", "window.horizon=7",
                "evaluate.folds=2", "evaluate.inner_folds=3")
    with pytest.raises(InputError, match=r"evaluate.inner_folds = 3 \(model.recipe = auto\) need at least 42 steps"):
        check_loaded(auto, loaded)
    check_loaded(auto.model_copy(update={"evaluate": auto.evaluate.model_copy(update={"inner_folds": 1})}), loaded)
    check_loaded(_cfg("source.kind=csv", f"source.path={str(path)!r}", "window.lookback=7", "window.horizon=7",
                      "model.recipe=manual"), loaded)


def test_subject_is_a_safe_short_name():
    assert subject(_cfg().source) == "alcohol-sales"  # the default source: the shipped sales series
    assert subject(_cfg("source.kind=csv", 'source.path="data/My Sales (2020).csv"').source) == "My-Sales--2020"
    assert subject(_cfg("source.kind=m4", 'source.path="../x/Hourly-train.csv"').source) == "Hourly-train"


@pytest.mark.parametrize("preset", ["sales.toml", "milk.toml", "milk_course.toml"])
def test_shipped_file_presets_read_and_fit_their_data(preset, monkeypatch):
    from tasks import paths

    monkeypatch.chdir(paths.PROJECT_ROOT)  # presets name data/ relative to the project's root
    cfg = load_config(ForecastConfig, paths.configs_dir() / preset)
    loaded = load_source(cfg.source)
    check_loaded(cfg, loaded)
    assert cfg.window.horizon == 12 and loaded.frequency == "monthly" and loaded.n_series == 1


def test_log_on_a_zero_or_negative_value_is_refused_at_ingest_naming_file_series_row_and_value(tmp_path):
    path = tmp_path / "shops.csv"
    rows = [f"a,2000-{m:02d}-01,{m}" for m in range(1, 13)] + [f"b,2000-{m:02d}-01,{m - 7}" for m in range(1, 13)]
    path.write_text("series_id,date,sales\n" + "\n".join(rows) + "\n")
    cfg = _cfg(f"source.path={str(path)!r}", "model.recipe=manual", "preprocess.log=true", "window.lookback=3")
    with pytest.raises(InputError) as caught:
        check_loaded(cfg, load_source(cfg.source))
    assert str(caught.value) == (
        f"{path}, row 14, column 'sales': series 'b' holds -6 (and 6 more values <= 0): preprocess.log = true needs "
        "every value > 0; set preprocess.log = false, or shift the series above zero")
    check_loaded(cfg.model_copy(update={"preprocess": cfg.preprocess.model_copy(update={"log": False})}),
                 load_source(cfg.source))


def test_log_on_an_m4_value_names_the_train_or_test_file_row_and_v_column(tmp_path):
    train, test = tmp_path / "M-train.csv", tmp_path / "M-test.csv"
    header = "V1," + ",".join(f"V{i}" for i in range(2, 42))
    train.write_text(header + "\nM1," + ",".join(["5"] * 40) + "\nM2," + ",".join(["5"] * 39 + ["0"]) + "\n")
    test.write_text("V1,V2,V3\nM1,1,-2\nM2,3,4\n")
    cfg = _cfg("source.kind=m4", f"source.path={str(train)!r}", "model.recipe=manual", "preprocess.log=true", "window.lookback=3",
               "window.horizon=2")
    with pytest.raises(InputError) as caught:
        check_loaded(cfg, load_source(cfg.source))
    assert str(caught.value) == (
        f"{train}, row 3, column 'V41': series 'M2' holds 0: preprocess.log = true needs every value > 0; set "
        "preprocess.log = false, or shift the series above zero")
    with_test = _cfg("source.kind=m4", f"source.path={str(train).replace('M-train', 'M-ok')!r}",
                     f"source.test_path={str(test)!r}", "model.recipe=manual", "preprocess.log=true", "window.lookback=3", "window.horizon=2")
    (tmp_path / "M-ok.csv").write_text(header + "\nM1," + ",".join(["5"] * 40) + "\nM2," + ",".join(["5"] * 40) + "\n")
    with pytest.raises(InputError) as caught:
        check_loaded(with_test, load_source(with_test.source))
    assert str(caught.value) == (
        f"{test}, row 2, column 'V3': series 'M1' holds -2: preprocess.log = true needs every value > 0; set "
        "preprocess.log = false, or shift the series above zero")


def test_a_source_kept_by_the_pre_flight_is_taken_by_the_next_read_unless_the_file_changed(tmp_path, monkeypatch):
    from tasks.forecasting import ingest
    from tasks.forecasting.sources import tabular

    reads = []
    real = tabular.read_series_csv
    monkeypatch.setattr(tabular, "read_series_csv", lambda *a, **k: reads.append(a) or real(*a, **k))
    path = _monthly_csv(tmp_path / "shop.csv", 30)
    source = _cfg("source.kind=csv", f"source.path={str(path)!r}").source
    kept = load_source(source, keep=True)
    assert load_source(source) is kept and len(reads) == 1  # taken, not read again
    assert load_source(source) is not kept and len(reads) == 2  # taken once: the next call reads
    load_source(source, keep=True)
    _monthly_csv(path, 31)  # changed since: read again
    assert len(load_source(source).frame) == 31 and len(reads) == 4
    load_source(source, keep=True)
    ingest.drop_kept()
    load_source(source)
    assert len(reads) == 6
