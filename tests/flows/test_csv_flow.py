"""End to end: a CSV of two series through the CLI and the flow, last 6 months held out at two origins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app

pytestmark = pytest.mark.slow

HORIZON = 6
SMALL = [
    "--horizon", str(HORIZON),
    "--set", "window.lookback=12",
    "--set", "model.units=8",
    "--set", "model.recipe=manual",
    "--set", "model.cells=gru",
    "--set", "train.epochs=3",
    "--set", "train.progress=false",
    "--set", "evaluate.folds=2",
    "--set", "evaluate.baselines=naive,seasonal_naive,naive2",
    "--set", "tracking.experiment=e2e-csv",
]


def _write_shop(path: Path, poison_last: int = 0) -> Path:
    """Two monthly series in long format, a footer after them; ``poison_last`` rewrites each series' last values."""
    rows = ["store,month,units"]
    for k, (store, n) in enumerate((("north", 60), ("south", 54))):
        months = pd.date_range("2015-01-01", periods=n, freq="MS")
        values = 200.0 + 50 * k + 2.0 * np.arange(n) + 30 * np.sin(2 * np.pi * np.arange(n) / 12)
        if poison_last:
            values[-poison_last:] *= 10  # the future: nothing fitted may see it
        rows += [f"{store},{m:%Y-%m},{v:.2f}" for m, v in zip(months, values)]
    rows += ["", "Source: two made-up stores"]
    path.write_text("\n".join(rows) + "\n")
    return path


def _run(path: Path, *extra: str):
    return CliRunner().invoke(app, ["run", "forecast", "--source", "csv", "--path", str(path), "--set", "source.id_column=store",
                                    *SMALL, *extra, "--json"])


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    return _write_shop(tmp_path_factory.mktemp("shop") / "shop.csv")


@pytest.fixture(scope="module")
def first_run(prefect_harness, shop):
    result = _run(shop)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_summary_ranks_models_and_baselines_by_mase_on_the_held_out_months(first_run, shop):
    assert (first_run["source_kind"], first_run["ranked_by"]) == ("csv", "mase")
    assert (first_run["n_series"], first_run["horizon"], first_run["folds"]) == (2, HORIZON, 2)
    assert (first_run["frequency"], first_run["season_length"]) == ("monthly", 12)
    assert first_run["parent_run_name"].startswith("forecast · shop · gru · ")
    assert {r["forecaster"] for r in first_run["ranking"]} == {"gru", "naive", "seasonal_naive", "naive2"}
    mase = [r["mase"] for r in first_run["ranking"]]
    assert mase == sorted(mase) and all(np.isfinite(mase))
    gru = first_run["models"][0]
    assert gru["failure"] is None and gru["model_uri"].startswith("models:/")
    for key in ("mase", "smape", "owa", "rmse", "test_rmse", "backtest_mase", "train_samples_per_second"):
        assert np.isfinite(gru["metrics"][key]), key
    assert {(b["forecaster"], b["fold"]) for b in first_run["backtest"]} == {
        (name, fold) for name in ("gru", "naive", "seasonal_naive", "naive2") for fold in (0, 1)}
    naive2 = [b for b in first_run["backtest"] if b["forecaster"] == "naive2"]
    assert all(b["owa"] == pytest.approx(1.0) and b["n_series"] == 2 for b in naive2)
    assert first_run["skipped_rows"] == [f"{shop}, row 116: empty row: ''",
                                         f"{shop}, row 117: text after the last data row (a footer): "
                                         "'Source: two made-up stores'"]


def test_forecast_output_holds_every_forecaster_series_fold_and_step_with_the_truth(first_run, shop):
    from tasks import storage

    out = storage.read_frame(Path(first_run["forecasts_path"]))
    assert list(out.columns) == ["series_id", "timestamp", "model", "fold", "horizon_step", "yhat", "lower", "upper", "y"]
    gru = out[out.model == "gru"]
    assert (gru["lower"] < gru["yhat"]).all() and (gru["yhat"] < gru["upper"]).all()
    assert out[out.model != "gru"][["lower", "upper"]].isna().all().all()  # baselines carry no interval
    assert len(out) == 4 * 2 * 2 * HORIZON  # forecasters x series x folds x steps
    truth = pd.read_csv(shop, skipfooter=2, engine="python")
    north = truth[truth.store == "north"]
    latest = out[(out.series_id == "north") & (out.model == "gru") & (out.fold == 0)].sort_values("horizon_step")
    assert pd.DatetimeIndex(latest["timestamp"]).strftime("%Y-%m").tolist() == north["month"].tolist()[-HORIZON:]
    np.testing.assert_allclose(latest["y"], north["units"].to_numpy()[-HORIZON:])
    earlier = out[(out.series_id == "north") & (out.model == "naive") & (out.fold == 1)]
    np.testing.assert_allclose(earlier["yhat"], north["units"].to_numpy()[-2 * HORIZON - 1])  # last value before it


def test_mlflow_holds_tables_per_forecaster_and_fold_forecasts_plots_and_the_model(first_run):
    from tasks.tracking import store

    client = store.client()
    parent = client.get_run(first_run["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["ranked_by"] == "mase" and parent.data.tags["n_series"] == "2"
    assert parent.data.params["source.path"].endswith("shop.csv")
    assert np.isfinite(parent.data.metrics["by_model.gru.mase"]) and np.isfinite(parent.data.metrics["by_model.naive2.owa"])
    # Ranked by the children's own names: the parent's headline is the served (best) model's.
    for key in ("mase", "smape", "owa"):
        assert parent.data.metrics[key] == parent.data.metrics[f"by_model.gru.{key}"]
    assert not any(k.startswith("gru.") for k in parent.data.metrics)

    def listed(path=None):
        found = []
        for item in client.list_artifacts(parent.info.run_id, path):
            found += listed(item.path) if item.is_dir else [item.path]
        return found

    artifacts = set(listed())
    for name in ("gru", "naive", "seasonal_naive", "naive2"):
        assert {f"tables/{name}/fold-0.md", f"tables/{name}/fold-1.md"} <= artifacts
    assert {"backtest.json", "ranking.json", "skipped_rows.txt", "plots/series/first-1.png",
            "plots/series/first-2.png", "plots/series/index.json"} <= artifacts
    assert f"forecasts/{Path(first_run['forecasts_path']).name}" in artifacts
    child = client.get_run(first_run["models"][0]["run_id"])
    assert child.info.status == "FINISHED" and child.info.run_name == "gru · shop"
    assert np.isfinite(child.data.metrics["mase"]) and np.isfinite(child.data.metrics["fold1.mase"])
    assert client.get_logged_model(first_run["models"][0]["model_id"]).name == "gru-shop"
    assert child.data.params["train.streamed"] == "False"  # the windows fit in train.max_window_mb


def test_windows_over_the_bound_train_streamed_through_the_whole_flow(first_run, shop):
    """The same run with the bound below its windows: trained from row groups, then evaluated, ranked and served."""
    from tasks.tracking import store

    result = _run(shop, "--set", "train.max_window_mb=0.001", "--set", "tracking.experiment=e2e-csv-streamed")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    gru = summary["models"][0]
    child = store.client().get_run(gru["run_id"])
    assert child.data.params["train.streamed"] == "True" and child.data.params["train.max_window_mb"] == "0.001"
    assert gru["failure"] is None and gru["model_uri"].startswith("models:/")
    assert np.isfinite(gru["metrics"]["mase"]) and np.isfinite(gru["metrics"]["backtest_mase"])
    # The same windows counted on either path; other batches, so other weights and scores.
    streamed_child, whole_child = child.data.metrics, store.client().get_run(first_run["models"][0]["run_id"]).data.metrics
    for key in ("train_windows", "validation_windows", "fold1.train_windows"):
        assert streamed_child[key] == whole_child[key] > 0, key
    assert {(b["forecaster"], b["fold"]) for b in summary["backtest"]} == {
        (b["forecaster"], b["fold"]) for b in first_run["backtest"]}


def test_nothing_fitted_sees_the_held_out_months(first_run, tmp_path):
    """Leakage, at the flow level: rewriting every series' held-out months changes the truth, no forecast."""
    from tasks import storage

    poisoned = _run(_write_shop(tmp_path / "shop.csv", poison_last=HORIZON))
    assert poisoned.exit_code == 0, poisoned.output
    again = json.loads(poisoned.stdout)
    keys = ["series_id", "model", "fold", "horizon_step"]
    a = storage.read_frame(Path(first_run["forecasts_path"])).sort_values(keys, ignore_index=True)
    b = storage.read_frame(Path(again["forecasts_path"])).sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(a[keys], b[keys])
    np.testing.assert_allclose(a["yhat"], b["yhat"], rtol=1e-6)  # models refit per origin, baselines too
    # intervals too: calibrated on residuals before each origin, scaled by the values before it
    np.testing.assert_allclose(a[["lower", "upper"]], b[["lower", "upper"]], rtol=1e-6)
    latest = (a["fold"] == 0).to_numpy()
    np.testing.assert_allclose(b["y"][latest], 10 * a["y"][latest], atol=0.06)  # the truth did change (to 2 decimals)


def test_local_ensemble_with_preprocessing_and_forecast_history_reproduces_the_flow(prefect_harness, shop):
    """model.scope=local, model.ensemble=2, every preprocessing step: one network per series and seed,
    and a served model calling preprocessing.forecast_history with the saved networks and the logged
    transforms gets exactly the flow's forecast."""
    import keras

    from tasks import storage
    from tasks.forecasting.preprocessing import SeriesTransform, forecast_history
    from tasks.tracking import store

    extra = ["--set", "model.scope=local", "--set", "model.ensemble=2", "--set", "preprocess.deseasonalise=classical",
             "--set", "preprocess.log=true", "--set", "preprocess.level=seasonal"]
    result = _run(shop, *extra)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    model = summary["models"][0]
    client = store.client()
    child = client.get_run(model["run_id"])
    assert child.data.metrics["networks"] == 2 * 2 * 2  # folds x members x series
    # Local scope is not served (one set of networks per series); the run says so on its parent.
    assert summary["served"] is None and summary["not_served"].startswith("no served model: model.scope = local")
    assert "model.scope = local" in client.get_run(summary["parent_run_id"]).data.tags["served_model_skipped"]
    transforms = json.loads(Path(client.download_artifacts(model["run_id"], "transforms.json")).read_text())
    assert transforms["ensemble"] == 2 and set(transforms["transforms"]) == {"north", "south"}

    forecasts = storage.read_frame(Path(summary["forecasts_path"]))
    mine = forecasts[(forecasts["model"] == "gru") & (forecasts["fold"] == 0)]
    assert len(mine) == 2 * HORIZON
    values = pd.read_csv(shop, skipfooter=1, engine="python").dropna()
    model_dir = Path(model["model_path"]).parent
    for group, sid in enumerate(("north", "south")):
        files = [f"gru-fold0-m{m}-s{group}.keras" for m in range(2)]
        files[0] = "gru.keras" if group == 0 else files[0]
        nets = [keras.saving.load_model(model_dir / f, compile=False) for f in files]
        predicts = [lambda x, n=n: np.asarray(n(x, training=False)) for n in nets]
        history = values[values["store"] == sid]["units"].to_numpy()[:-HORIZON]
        state = SeriesTransform.from_dict(transforms["transforms"][sid])
        served = forecast_history(history, predicts, state, lookback=12, horizon=HORIZON)
        flow = mine[mine["series_id"] == sid].sort_values("horizon_step")["yhat"].to_numpy()
        np.testing.assert_allclose(served, flow, rtol=1e-5)


def test_local_ensemble_with_calendar_covariates_reproduces_the_flow(prefect_harness, shop):
    """model.scope=local, model.ensemble=2, preprocess.calendar=auto: each series' networks read the month of
    every input and forecast step, and forecast_history with that calendar gets exactly the flow's forecast."""
    import keras

    from tasks import storage
    from tasks.forecasting import calendar
    from tasks.forecasting.preprocessing import SeriesTransform, forecast_history
    from tasks.tracking import store

    result = _run(shop, "--set", "model.scope=local", "--set", "model.ensemble=2", "--set", "preprocess.calendar=auto",
                  "--set", "preprocess.level=last")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    model = summary["models"][0]
    client = store.client()
    assert client.get_run(model["run_id"]).data.metrics["networks"] == 2 * 2 * 2  # folds x members x series
    transforms = json.loads(Path(client.download_artifacts(model["run_id"], "transforms.json")).read_text())
    assert transforms["calendar_features"] == ["month_of_year"]
    forecasts = storage.read_frame(Path(summary["forecasts_path"]))
    mine = forecasts[(forecasts["model"] == "gru") & (forecasts["fold"] == 0)]
    frame = pd.read_csv(shop, skipfooter=1, engine="python").dropna()
    model_dir = Path(model["model_path"]).parent
    for group, sid in enumerate(("north", "south")):
        files = ["gru.keras" if group == 0 else f"gru-fold0-m0-s{group}.keras", f"gru-fold0-m1-s{group}.keras"]
        nets = [keras.saving.load_model(model_dir / f, compile=False) for f in files]
        predicts = [lambda x, n=n: np.asarray(n(x, training=False)) for n in nets]
        rows = frame[frame["store"] == sid]
        history = rows["units"].to_numpy()[:-HORIZON]
        months = pd.to_datetime(rows["month"])[-HORIZON - 12:]  # the lookback's months and the horizon's
        state = SeriesTransform.from_dict(transforms["transforms"][sid])
        served = forecast_history(history, predicts, state, lookback=12, horizon=HORIZON,
                                  calendar=calendar.encode(months, ("month_of_year",)))
        flow = mine[mine["series_id"] == sid].sort_values("horizon_step")["yhat"].to_numpy()
        np.testing.assert_allclose(served, flow, rtol=1e-5)


def _write_m4(folder: Path, test_scale: float) -> tuple[Path, Path]:
    """Three weekly M4-format series (wide rows, ragged lengths) and their 4-step test file, scaled by ``test_scale``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lengths, train_rows, test_rows = (70, 64, 58), [], []
    for k, n in enumerate(lengths):
        values = 100.0 + 20 * k + np.cumsum(rng.normal(0.5, 2.0, n + 4))
        train_rows.append([f"W{k + 1}", *(f"{v:.2f}" for v in values[:n])])
        test_rows.append([f"W{k + 1}", *(f"{v * test_scale:.2f}" for v in values[n:])])
    width = max(lengths)
    train = folder / "Weekly-train.csv"
    train.write_text("\n".join([",".join(["V1", *(f"V{i}" for i in range(2, width + 2))])]
                               + [",".join(r + [""] * (width + 1 - len(r))) for r in train_rows]) + "\n")
    test = folder / "Weekly-test.csv"
    test.write_text("\n".join([",".join(["V1", *(f"V{i}" for i in range(2, 6))])] + [",".join(r) for r in test_rows]) + "\n")
    return train, test


def test_an_m4_test_file_is_scored_never_fitted(prefect_harness, tmp_path):
    """Leakage, at the flow level, for M4 files: another test file changes the truth and the scores, no forecast."""
    from tasks import storage

    out = []
    for scale in (1.0, 3.0):
        train, test = _write_m4(tmp_path / f"x{scale:g}", scale)
        result = CliRunner().invoke(app, [
            "run", "forecast", "--source", "m4", "--path", str(train), "--test", str(test), "--horizon", "4",
            "--set", "window.lookback=8", "--set", "model.units=4", "--set", "model.cells=gru",
            "--set", "train.epochs=2", "--set", "train.progress=false", "--set", "model.recipe=manual", "--set", "preprocess.log=true",
            "--set", "preprocess.level=last", "--set", "evaluate.baselines=naive2",
            "--set", "tracking.experiment=e2e-m4", "--json"])
        assert result.exit_code == 0, result.output
        out.append(json.loads(result.stdout))
    keys = ["series_id", "model", "fold", "horizon_step"]
    a, b = (storage.read_frame(Path(o["forecasts_path"])).sort_values(keys, ignore_index=True) for o in out)
    pd.testing.assert_frame_equal(a[keys], b[keys])
    np.testing.assert_allclose(a[["yhat", "lower", "upper"]], b[["yhat", "lower", "upper"]], rtol=1e-6)
    np.testing.assert_allclose(b["y"], 3 * a["y"], rtol=1e-3)  # the truth did change
    assert out[0]["models"][0]["metrics"]["mase"] != out[1]["models"][0]["metrics"]["mase"]
