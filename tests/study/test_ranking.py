import math

from tasks.study.ranking import rank_forecasters
from tasks.study.records import BaselineScore, ModelResult


def _model(cell, rmse, failure=None):
    return ModelResult(cell, f"run-{cell}", None, None, None, {} if failure else {"test_rmse": rmse, "test_mae": rmse / 2},
                       (), failure)


def test_models_and_baselines_are_ranked_best_first():
    ranking = rank_forecasters([_model("lstm", 0.2), _model("gru", 0.1)],
                               [BaselineScore("naive", {"test_rmse": 0.15, "test_mae": 0.1})])
    assert [(r.rank, r.forecaster, r.kind) for r in ranking] == [(1, "gru", "model"), (2, "naive", "baseline"),
                                                                 (3, "lstm", "model")]
    assert ranking[0].test_mae == 0.05


def test_a_failed_or_non_finite_model_is_never_ranked():
    ranking = rank_forecasters(
        [_model("rnn", math.nan), _model("lstm", 0.3), _model("gru", 0.0, failure="training diverged: loss nan")],
        [BaselineScore("naive", {"test_rmse": 0.5, "test_mae": 0.4})],
    )
    assert [r.forecaster for r in ranking] == ["lstm", "naive"]


def test_ties_keep_models_before_baselines():
    ranking = rank_forecasters([_model("lstm", 0.1)], [BaselineScore("naive", {"test_rmse": 0.1, "test_mae": 0.1})])
    assert [r.forecaster for r in ranking] == ["lstm", "naive"]
