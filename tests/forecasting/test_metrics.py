"""M4 metrics against values worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.forecasting import metrics

Y = np.array([100.0, 110.0, 120.0])
YHAT = np.array([90.0, 110.0, 132.0])  # errors 10, 0, -12
INSAMPLE = np.array([1.0, 2.0, 4.0, 8.0, 10.0, 12.0])


def test_mae_rmse_mape():
    assert metrics.mae(Y, YHAT) == pytest.approx(22 / 3)
    assert metrics.rmse(Y, YHAT) == pytest.approx(np.sqrt(244 / 3))
    assert metrics.mape(Y, YHAT) == pytest.approx(100 * (0.1 + 0 + 0.1) / 3)


def test_smape_on_the_0_to_200_scale():
    # 200 * 10 / 190, 0, 200 * 12 / 252
    assert metrics.smape(Y, YHAT) == pytest.approx((2000 / 190 + 2400 / 252) / 3)
    assert metrics.smape([1.0], [-1.0]) == pytest.approx(200.0)
    assert metrics.smape([0.0, 2.0], [0.0, 2.0]) == 0.0


def test_mase_scaled_by_the_in_sample_seasonal_naive_error():
    # m = 2: |4-1|, |8-2|, |10-4|, |12-8| -> 19 / 4
    assert metrics.seasonal_naive_scale(INSAMPLE, 2) == pytest.approx(4.75)
    assert metrics.mase(Y, YHAT, INSAMPLE, 2) == pytest.approx((22 / 3) / 4.75)
    # m = 1: 1, 2, 4, 2, 2 -> 11 / 5
    assert metrics.mase(Y, YHAT, INSAMPLE, 1) == pytest.approx((22 / 3) / 2.2)


def test_mase_falls_back_to_lag_one_for_a_series_shorter_than_a_season():
    assert metrics.seasonal_naive_scale([1.0, 3.0, 4.0], 12) == pytest.approx(1.5)


def test_owa_relative_to_naive2():
    assert metrics.owa(10.0, 1.5, 20.0, 2.0) == pytest.approx(0.625)


def test_score_forecast_holds_every_metric():
    scores = metrics.score_forecast(Y, YHAT, INSAMPLE, 2)
    assert set(scores) == set(metrics.METRICS)
    assert scores["mase"] == pytest.approx((22 / 3) / 4.75)


def test_summarize_means_over_series_then_owa_from_the_means():
    rows = [
        ("a", "naive2", 10.0, 1.0),
        ("b", "naive2", 30.0, 3.0),
        ("a", "model", 5.0, 2.0),
        ("b", "model", 25.0, 1.0),
    ]
    scores = pd.DataFrame(rows, columns=["series_id", "model", "smape", "mase"]).assign(mae=1.0, rmse=1.0, mape=1.0)
    summary = metrics.summarize(scores).set_index("model")
    assert summary.loc["model", "smape"] == pytest.approx(15.0)
    assert summary.loc["model", "mase"] == pytest.approx(1.5)
    # 0.5 * (15 / 20 + 1.5 / 2); the mean of per-series OWAs would be 0.917 instead.
    assert summary.loc["model", "owa"] == pytest.approx(0.75)
    assert summary.loc["naive2", "owa"] == pytest.approx(1.0)
    assert summary.loc["model", "n_series"] == 2


def test_summarize_per_fold():
    scores = pd.DataFrame(
        {"series_id": ["a"] * 4, "model": ["naive2", "m", "naive2", "m"], "fold": [0, 0, 1, 1],
         "smape": [10.0, 5.0, 20.0, 20.0], "mase": [1.0, 0.5, 2.0, 2.0], "mae": 1.0, "rmse": 1.0, "mape": 1.0}
    )
    summary = metrics.summarize(scores, by=("model", "fold")).set_index(["model", "fold"])
    assert summary.loc[("m", 0), "owa"] == pytest.approx(0.5)
    assert summary.loc[("m", 1), "owa"] == pytest.approx(1.0)


def test_messages_name_the_argument():
    with pytest.raises(ValueError, match=r"^y_true has 2 values and y_pred 3; they must match$"):
        metrics.mae([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"^season_length=0: must be >= 1$"):
        metrics.seasonal_naive_scale(INSAMPLE, 0)
    with pytest.raises(ValueError, match=r"^by=\('fold',\): must include 'model', OWA is per model$"):
        metrics.summarize(pd.DataFrame(), by=("fold",))


NO_SCALE = {"constant": np.full(24, 7.0), "periodic": np.tile([1.0, 5.0, 2.0, 8.0], 6)}  # season 4


@pytest.mark.parametrize("insample", NO_SCALE.values(), ids=NO_SCALE.keys())
def test_mase_is_nan_where_a_series_has_no_scale(insample):
    assert metrics.seasonal_naive_scale(insample, 4) == 0.0
    assert np.isnan(metrics.mase([7.0, 7.5], [7.0, 7.0], insample, 4))  # an error, but nothing to scale it by
    assert np.isnan(metrics.mase([7.0, 7.0], [7.0, 7.0], insample, 4))  # a perfect forecast likewise
    assert np.isnan(metrics.score_forecast([7.0, 7.5], [7.0, 7.0], insample, 4)["mase"])
    assert metrics.score_forecast([7.0, 7.5], [7.0, 7.0], insample, 4)["smape"] > 0  # the rest is scored


def test_means_over_series_skip_a_series_without_scale():
    scores = pd.DataFrame({"model": ["m", "m", "m", "naive2", "naive2", "naive2"],
                           "series_id": ["a", "b", "flat"] * 2,
                           "mae": [1.0, 3.0, 0.5, 2.0, 4.0, 0.5], "rmse": [1.0, 3.0, 0.5, 2.0, 4.0, 0.5],
                           "mape": [1.0, 3.0, 5.0, 2.0, 4.0, 5.0], "smape": [1.0, 3.0, 5.0, 2.0, 4.0, 5.0],
                           "mase": [0.5, 1.5, np.nan, 1.0, 2.0, np.nan]})
    summary = metrics.summarize(scores).set_index("model")
    assert summary.loc["m", "mase"] == pytest.approx(1.0) and summary.loc["naive2", "mase"] == pytest.approx(1.5)
    assert summary.loc["m", "smape"] == pytest.approx(3.0) and summary.loc["m", "n_series"] == 3
    assert summary.loc["m", "owa"] == pytest.approx(0.5 * (3.0 / (11 / 3) + 1.0 / 1.5))
