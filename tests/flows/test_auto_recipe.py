"""End to end: model.recipe = auto chooses on the inner folds only; the held-out months never reach the choice.

The same monthly series is run twice, the second time with its held-out months multiplied by ten:
what auto chose (the rule, each candidate's inner score and weight), the network it serves and its
forecasts must be bit-identical, while the scores of the held-out part differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks import paths, storage

pytestmark = pytest.mark.slow

HORIZON = 6
TINY = ["--horizon", str(HORIZON), "--set", "window.lookback=12", "--set", "model.units=4",
        "--set", "train.epochs=1", "--set", "train.progress=false", "--set", "tracking.experiment=e2e-auto",
        "--set", "tracking.registered_model=off", "--json"]


def _write(path: Path, poison: bool) -> Path:
    n = 72
    t = np.arange(n)
    values = 300 + 2.0 * t + 40 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(3).normal(0, 4, n)
    if poison:
        values[-HORIZON:] *= 10  # the held-out months: only scored
    months = pd.date_range("2015-01-01", periods=n, freq="MS")
    path.write_text("month,units\n" + "".join(f"{m:%Y-%m},{v:.3f}\n" for m, v in zip(months, values)))
    return path


def _run(path: Path, *overrides: str) -> dict:
    sets = [a for o in overrides for a in ("--set", o)]
    result = CliRunner().invoke(app, ["run", "forecast", "--path", str(path), *TINY, *sets])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def clean_csv(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("clean") / "shop.csv", False)


@pytest.fixture(scope="module")
def runs(prefect_harness, clean_csv, tmp_path_factory):
    # The same file name: the series id is the file's stem.
    return _run(clean_csv), _run(_write(tmp_path_factory.mktemp("poisoned") / "shop.csv", True))


def _auto(summary: dict) -> dict:
    return next(m for m in summary["models"] if m["cell"] == "auto")


def test_auto_is_ranked_beside_every_candidate_and_marked_as_chosen_before_the_test(runs):
    clean, _ = runs
    assert clean["recipe"] == "auto"
    names = {r["forecaster"]: r for r in clean["ranking"]}
    assert {"auto", "gru-level", "gru-deseason-log-small", "gru-deseason-log", "seasonal_naive",
            "holt_winters_damped", "theta"} <= set(names)
    assert [n for n, r in names.items() if r["chosen"]] == ["auto"]
    # What is served is auto itself, the choice made on the inner folds.
    assert clean["served_network"] == "auto" and clean["served"]["cell"] == "auto"
    # auto's own interval (calibrated on its inner folds), scored like every model's.
    assert all(np.isfinite(_auto(clean)["metrics"][k]) for k in ("coverage", "msis", "interval_width"))
    # The held-out fold only: the inner folds are the choice's and are not in the comparison.
    assert {b["fold"] for b in clean["backtest"]} == {0}


def test_the_held_out_values_never_reach_the_choice(runs):
    clean, poisoned = runs
    tables = [storage.read_frame(paths.intermediate_path("auto-choice", _auto(s)["run_id"])) for s in runs]
    pd.testing.assert_frame_equal(tables[0], tables[1])
    from tasks.tracking import models

    served = [models.load_forecaster(s["served"]["model_uri"])[1] for s in runs]
    assert served[0]["choice"] == served[1]["choice"]  # the rule, every member and weight, bit for bit
    forecasts = [storage.read_frame(Path(s["forecasts_path"])) for s in runs]
    auto = [f[f["model"] == "auto"].sort_values("horizon_step") for f in forecasts]
    assert auto[0]["yhat"].to_numpy().tobytes() == auto[1]["yhat"].to_numpy().tobytes()
    assert not np.array_equal(auto[0]["y"].to_numpy(), auto[1]["y"].to_numpy())
    assert _auto(clean)["metrics"]["mase"] != _auto(poisoned)["metrics"]["mase"]


def _served_inputs(summary: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The flow's auto forecast at the latest origin, and every series' history before that origin."""
    forecasts = storage.read_frame(Path(summary["forecasts_path"]))
    flow = forecasts[(forecasts["model"] == "auto") & (forecasts["fold"] == 0)].sort_values(
        ["series_id", "horizon_step"], ignore_index=True)
    series = storage.read_frame(Path(summary["series_path"]))
    first = flow.groupby("series_id")["timestamp"].min()
    history = series[series["timestamp"] < series["series_id"].map(first)].reset_index(drop=True)
    return flow, history[["series_id", "timestamp", "value"]]


def _same_bits(served: pd.DataFrame, flow: pd.DataFrame) -> None:
    served = served.sort_values(["series_id", "timestamp"], ignore_index=True)
    assert served["series_id"].tolist() == flow["series_id"].tolist()
    assert pd.DatetimeIndex(served["timestamp"]).equals(pd.DatetimeIndex(flow["timestamp"]))
    for column in ("yhat", "lower", "upper"):
        got, want = served[column].to_numpy(np.float64), flow[column].to_numpy(np.float64)
        assert np.isfinite(want).all(), column
        assert got.tobytes() == want.tobytes(), f"{column}: served {got} != flow {want}"


def test_the_served_model_forecasts_what_auto_chose_bit_for_bit(runs):
    """The logged forecaster of an auto run is the choice itself: its rule, each series' members and
    weights, the statistical members refitted on the history, the networks the rule uses."""
    from tasks.tracking import models

    clean, _ = runs
    assert clean["served"]["cell"] == "auto"
    flow, history = _served_inputs(clean)
    model, bundle = models.load_forecaster(clean["served"]["model_uri"])
    chosen = storage.read_frame(paths.intermediate_path("auto-choice", _auto(clean)["run_id"]))
    members = chosen[(chosen["fold"] == 0) & (chosen["weight"] > 0)].sort_values("rank")
    plan = bundle["choice"]["series"]["shop"]
    assert bundle["choice"]["rule"] == members["rule"].iloc[0]
    assert plan["members"] == members["candidate"].tolist()
    assert plan["weights"] == members["weight"].tolist()
    used = set(plan["members"]) | set(bundle["choice"]["new_series"]["members"])
    assert set(bundle["networks"]) == {m for m in used if m.startswith("gru-")}
    _same_bits(models.predict_table(model, history), flow)


def test_a_series_not_seen_in_training_is_forecast_with_the_shared_ranking(runs):
    from tasks.tracking import models

    clean, _ = runs
    flow, history = _served_inputs(clean)
    model, bundle = models.load_forecaster(clean["served"]["model_uri"])
    fallback = bundle["choice"]["new_series"]
    assert fallback["ranking"] == "shared" and fallback["members"]
    renamed = history.assign(series_id="elsewhere")
    served = models.predict_table(model, renamed)
    assert served["series_id"].unique().tolist() == ["elsewhere"]
    # One series: the shared ranking orders the candidates as its own does, so the same members (the
    # weights, of relative scores, may differ in the last bits).
    assert fallback["members"] == bundle["choice"]["series"]["shop"]["members"]
    np.testing.assert_allclose(served["yhat"].to_numpy(), flow["yhat"].to_numpy(), rtol=1e-12)


def test_seqflow_predict_gives_the_auto_forecast(runs, tmp_path):
    clean, _ = runs
    flow, history = _served_inputs(clean)
    path = tmp_path / "history.csv"
    history.assign(timestamp=history["timestamp"].dt.strftime("%Y-%m")).to_csv(path, index=False)
    out = tmp_path / "forecast.parquet"
    result = CliRunner().invoke(app, ["predict", "--model", clean["served"]["model_uri"], "--input", str(path),
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    _same_bits(storage.read_frame(out), flow)
    shown = CliRunner().invoke(app, ["predict", "--model", clean["served"]["model_uri"], "--input", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "auto: next 6 monthly steps, 95% interval" in shown.stdout


@pytest.fixture(scope="module")
def networks_only(runs, clean_csv):
    """The clean run again with the recurrent recipes as auto's only candidates, so that the choice reads
    networks (with one epoch the statistical forecasters win every rule above); the trained networks are
    the clean run's, reused (the same file and settings)."""
    from tasks.forecasting import choice

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(choice, "STATISTICAL", ())
        return _run(clean_csv)


def test_the_served_model_reads_the_networks_the_choice_reads_and_forecasts_what_auto_did(networks_only):
    from tasks.tracking import models

    flow, history = _served_inputs(networks_only)
    model, bundle = models.load_forecaster(networks_only["served"]["model_uri"])
    members = bundle["choice"]["series"]["shop"]["members"]
    assert members and all(m.startswith("gru-") for m in members)
    used = set(members) | set(bundle["choice"]["new_series"]["members"])
    assert set(bundle["networks"]) == used
    # Each recipe's own networks (the latest origin's ensemble) and its own preprocessing.
    indices = [k for spec in bundle["networks"].values() for k in spec["members"]]
    assert sorted(indices) == list(range(len(model.unwrap_python_model()._predicts)))
    assert {name: spec["preprocess"]["log"] for name, spec in bundle["networks"].items()} == {
        name: "log" in name for name in used}
    _same_bits(models.predict_table(model, history), flow)


def test_auto_networks_train_with_mae_unless_train_loss_is_set(runs, clean_csv):
    import mlflow

    clean, _ = runs
    client = mlflow.MlflowClient(clean["tracking_uri"])
    networks = [m for m in clean["models"] if m["cell"] != "auto"]
    assert len(networks) == 3
    assert {client.get_run(m["run_id"]).data.params["train.loss"] for m in networks} == {"mae"}
    # Said by the user, it is kept: every recipe trains with it.
    chosen = _run(clean_csv, "train.loss=huber", "evaluate.inner_folds=2")  # the loss only: the fewest origins
    assert {client.get_run(m["run_id"]).data.params["train.loss"]
            for m in chosen["models"] if m["cell"] != "auto"} == {"huber"}


def test_inner_folds_auto_is_resolved_on_the_series_and_recorded(runs):
    import mlflow

    from tasks.forecasting.config import ForecastConfig, resolve_inner_folds

    clean, _ = runs
    cfg = ForecastConfig.model_validate({"window": {"horizon": HORIZON, "lookback": 12}})
    expected = resolve_inner_folds(cfg, 72).evaluate.inner_folds
    assert expected > 2  # the series is long enough for more than the least
    assert clean["inner_folds"] == expected
    run = mlflow.MlflowClient(clean["tracking_uri"]).get_run(_auto(clean)["run_id"])
    assert run.data.params["evaluate.inner_folds"] == str(expected)
    assert run.data.tags["chosen_on"] == f"{expected} inner folds before each held-out horizon"
    # Every candidate was backtested at each inner origin and at the held-out one.
    network = next(m for m in clean["models"] if m["cell"] != "auto")
    assert storage.read_frame(Path(network["forecasts_path"]))["fold"].nunique() == 1 + expected
