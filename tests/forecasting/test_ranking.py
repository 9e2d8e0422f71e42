import math

from tasks.forecasting.ranking import rank_forecasters
from tasks.forecasting.records import BaselineScore, ModelResult


def _model(cell, mase, failure=None):
    metrics = {} if failure else {"mase": mase, "test_rmse": 2 * mase, "test_mae": mase, "smape": 10 * mase, "owa": mase}
    return ModelResult(cell, f"run-{cell}", None, None, None, metrics, failure)


def _baseline(name, mase):
    return BaselineScore(name, {"mase": mase, "test_rmse": 2 * mase, "test_mae": mase, "smape": 10 * mase})


def test_models_and_baselines_are_ranked_best_first():
    ranking = rank_forecasters([_model("lstm", 0.2), _model("gru", 0.1)],
                               [_baseline("naive", 0.15)])
    assert [(r.rank, r.forecaster, r.kind) for r in ranking] == [(1, "gru", "model"), (2, "naive", "baseline"),
                                                                 (3, "lstm", "model")]
    assert (ranking[0].mase, ranking[0].test_rmse, ranking[0].smape) == (0.1, 0.2, 1.0)
    assert math.isnan(ranking[1].owa)  # a baseline scored without naive2 has no OWA


def test_a_failed_or_non_finite_model_is_never_ranked():
    ranking = rank_forecasters(
        [_model("rnn", math.nan), _model("lstm", 0.3), _model("gru", 0.0, failure="training diverged: loss nan")],
        [_baseline("naive", 0.5)],
    )
    assert [r.forecaster for r in ranking] == ["lstm", "naive"]


def test_ties_keep_models_before_baselines():
    ranking = rank_forecasters([_model("lstm", 0.1)], [_baseline("naive", 0.1)])
    assert [r.forecaster for r in ranking] == ["lstm", "naive"]
