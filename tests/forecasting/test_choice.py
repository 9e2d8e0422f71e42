"""model.recipe = auto: the choice on the inner folds, and that the held-out part never reaches it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.forecasting import choice
from tasks.forecasting.config import ForecastConfig

H = 4


def _series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)


def _frame(values: dict[str, np.ndarray], folds: int, bias: dict[str, float]) -> pd.DataFrame:
    """Backtest rows of candidates whose forecast is the truth plus a per-candidate bias and a wiggle.

    The forecasts at fold k use only values before its origin (the last one, plus the bias): a
    candidate that peeked at the truth would make the invariance test below meaningless.
    """
    parts = []
    for sid, y in values.items():
        n = y.size
        for fold in range(folds):
            origin = n - H - fold * H
            last = y[origin - 1]
            for name, b in bias.items():
                yhat = last + b + 0.1 * np.arange(1, H + 1) * (1 + len(name) % 3)
                parts.append(pd.DataFrame({
                    "series_id": sid, "model": name, "fold": fold, "origin": origin,
                    "timestamp": pd.date_range("2000-01-01", periods=H, freq="MS") + pd.DateOffset(months=origin),
                    "horizon_step": np.arange(1, H + 1), "yhat": yhat, "y": y[origin : origin + H]}))
    return pd.concat(parts, ignore_index=True)


CANDIDATES = {"gru-level": 5.0, "holt_winters_damped": 1.0, "theta": 2.0, "seasonal_naive": 8.0}


def _choose(values, folds=4, held_out=2, inner=2):
    frame = _frame(values, folds, CANDIDATES)
    arrays = {sid: (np.arange(y.size), y) for sid, y in values.items()}
    return choice.choose(frame, arrays, tuple(CANDIDATES), ("gru-level",), held_out, inner, H, 12)


def test_inner_folds_are_the_latest_whose_test_parts_end_before_the_origin():
    origins = {0: 100, 1: 96, 2: 92, 3: 88, 4: 84}
    assert choice.inner_folds(origins, 0, 4, 2) == [1, 2]
    assert choice.inner_folds(origins, 1, 4, 3) == [2, 3, 4]
    # A horizon longer than the step between origins skips the folds whose test overlaps the origin.
    assert choice.inner_folds(origins, 0, 8, 2) == [2, 3]
    with pytest.raises(ValueError, match="fold 3 has 1 folds before it, fewer than the 2 inner folds"):
        choice.inner_folds(origins, 3, 4, 2)


def test_total_folds_leave_inner_folds_before_the_earliest_held_out_origin():
    cfg = ForecastConfig.model_validate({"window": {"horizon": 12}, "evaluate": {"folds": 4, "inner_folds": 2}})
    assert cfg.total_folds == 4 + 2
    step6 = cfg.model_copy(update={"evaluate": cfg.evaluate.model_copy(update={"fold_step": 6})})
    assert step6.total_folds == 4 - 1 + 2 + 2  # two 6-step hops clear a 12-step test part
    manual = ForecastConfig.model_validate({"model": {"recipe": "manual"}, "evaluate": {"folds": 4}})
    assert manual.total_folds == 4


def test_inner_folds_auto_takes_the_most_up_to_four_that_keep_the_networks_lookback():
    from tasks.forecasting.config import auto_lookback, resolve_inner_folds, with_inner_folds

    cfg = ForecastConfig.model_validate({"window": {"horizon": 12, "lookback": 32}})
    assert cfg.evaluate.inner_folds == "auto"
    # Long enough: four inner folds, and the networks still look back 32 steps.
    long = resolve_inner_folds(cfg, 400)
    assert long.evaluate.inner_folds == 4 and long.total_folds == 1 + 4
    assert auto_lookback(long, 400) == 32
    # Where a fourth (or third) inner fold would halve the lookback, fewer folds keep it.
    seen = set()
    for n in range(60, 400):
        k = resolve_inner_folds(cfg, n).evaluate.inner_folds
        seen.add(k)
        at = {j: auto_lookback(with_inner_folds(cfg, j), n) for j in (2, 3, 4)}
        assert 2 <= k <= 4
        assert at[k] == at[2]
        assert k == 4 or at[k + 1] != at[2] or (at[2] is None and k == 2)
    assert seen == {2, 3, 4}
    # No lookback fits even at two: two inner folds (the statistical forecasters' choice).
    assert auto_lookback(with_inner_folds(cfg, 2), 40) is None
    assert resolve_inner_folds(cfg, 40).evaluate.inner_folds == 2
    # A number, or model.recipe = manual, is kept as it is.
    three = ForecastConfig.model_validate({"evaluate": {"inner_folds": 3}})
    assert resolve_inner_folds(three, 400) is three
    manual = ForecastConfig.model_validate({"model": {"recipe": "manual"}})
    assert resolve_inner_folds(manual, 400) is manual
    # Before the data is read, auto fits the series as its least, two.
    assert cfg.total_folds == 1 + 2


def test_auto_refuses_what_it_chooses_itself_and_names_the_way_out():
    with pytest.raises(ValueError, match=r"preprocess.log = True fixes what model.recipe = 'auto' chooses.*"
                                         r"set model.recipe = 'manual'"):
        ForecastConfig.model_validate({"preprocess": {"log": True}})
    with pytest.raises(ValueError, match="model.recipe = 'auto' trains direct networks only"):
        ForecastConfig.model_validate({"model": {"strategy": "recursive"}})
    ForecastConfig.model_validate({"model": {"recipe": "manual"}, "preprocess": {"log": True}})
    # A dumped auto config loads again (Prefect re-validates the flow's parameter).
    cfg = ForecastConfig()
    assert ForecastConfig.model_validate(cfg.model_dump(mode="json")) == cfg


def test_recipes_follow_the_data():
    positive = choice.recipes(("gru",), 32, 12, 24, positive=True)
    assert [(r.label, r.units, r.deseasonalise, r.log, r.level) for r in positive] == [
        ("gru-level", 32, "off", False, "last"),
        ("gru-deseason-log-small", 8, "classical", True, "seasonal"),
        ("gru-deseason-log", 32, "classical", True, "seasonal")]
    # No log or multiplicative season for a series with a value <= 0; no season without m > 1.
    assert [r.label for r in choice.recipes(("gru",), 32, 12, 24, positive=False)] == ["gru-level", "gru-level-small"]
    assert [r.level for r in choice.recipes(("lstm",), 32, 1, 24, positive=True)] == ["last", "last", "last"]
    # The seasonal level needs a season inside the lookback.
    assert choice.recipes(("gru",), 32, 24, 12, positive=True)[1].level == "last"


@pytest.mark.parametrize("n_windows, expected", [(10, 16), (250, 16), (2000, 64), (35_000, 1024), (10**7, 1024)])
def test_the_batch_size_follows_the_data(n_windows, expected):
    assert choice.batch_size(n_windows) == expected


def test_candidates_are_ranked_and_combined_on_the_inner_folds():
    values = {"a": _series(80, 1), "b": _series(70, 2)}
    chosen = _choose(values)
    assert set(chosen.rules) == {0, 1} and all(r in choice.RULES for r in chosen.rules.values())
    table = chosen.table[(chosen.table["fold"] == 0) & (chosen.table["series_id"] == "a")]
    # Ranked by the inner folds' MASE, best first; the weights of the chosen rule sum to one.
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert table["inner_score"].is_monotonic_increasing
    assert table["weight"].sum() == pytest.approx(1.0)
    assert set(chosen.forecasts["fold"]) == {0, 1}  # the held-out folds only
    assert chosen.network == "gru-level"


def test_rules_combine_as_named():
    yhats = np.array([[1.0, 1.0], [2.0, 4.0], [6.0, 6.0], [100.0, 100.0]])
    scores = np.array([1.0, 2.0, 4.0, 8.0])
    best, w = choice._combine("best", yhats, scores)
    assert best.tolist() == [1.0, 1.0] and w.tolist() == [1.0, 0.0, 0.0, 0.0]
    median, w = choice._combine("median_top3", yhats, scores)
    assert median.tolist() == [2.0, 4.0] and w[3] == 0.0
    weighted, w = choice._combine("weighted_top3", yhats, scores)
    assert w[:3] == pytest.approx(np.array([1, 0.5, 0.25]) / 1.75) and w[3] == 0.0
    assert weighted == pytest.approx(w[:3] @ yhats[:3])


def test_rewriting_the_held_out_values_changes_nothing_that_was_chosen():
    values = {"a": _series(80, 1), "b": _series(70, 2)}
    poisoned = {sid: y.copy() for sid, y in values.items()}
    for y in poisoned.values():
        y[-H:] *= 10  # fold 0's test part: only scored
    before, after = _choose(values, held_out=1), _choose(poisoned, held_out=1)
    assert before.rules == after.rules and before.rule_scores == after.rule_scores
    assert before.network == after.network
    pd.testing.assert_frame_equal(before.table, after.table)
    pd.testing.assert_series_equal(before.forecasts["yhat"], after.forecasts["yhat"])
    assert not np.array_equal(before.forecasts["y"], after.forecasts["y"])  # the rewrite did reach the truth


def test_a_series_without_a_mase_scale_is_ranked_by_smape():
    flat = np.full(60, 5.0)
    flat[-H:] = 6.0
    chosen = _choose({"flat": flat}, held_out=1)
    assert set(chosen.table["inner_metric"]) == {"smape"}


def test_auto_shortens_the_networks_lookback_to_fit_short_series_or_leaves_them_out():
    from tasks.forecasting.config import auto_lookback

    cfg = ForecastConfig.model_validate({"window": {"lookback": 32, "horizon": 18}})
    assert auto_lookback(cfg, 400) == 32
    assert auto_lookback(cfg, 120) == 16
    assert auto_lookback(cfg, 100) == 8
    assert auto_lookback(cfg, 80) is None  # the statistical forecasters alone


@pytest.mark.parametrize("noise", [-1e-15, 0.0, 1e-15])
def test_scores_equal_but_for_floating_point_noise_are_a_tie_broken_by_name(noise):
    # Two recipes whose forecasts differ only in the last bits (a CPU kernel's summation order) must
    # rank the same way on every machine: by name.
    scored = {"s": ({"gru-deseason-log-small": [0.806289 * (1 + noise)], "gru-deseason-log": [0.806289],
                     "theta": [0.5]}, [1], "mase")}
    ranked, _ = choice._plans(scored, [0])["series"]["s"]
    assert ranked == ["theta", "gru-deseason-log", "gru-deseason-log-small"]
    # A real difference still ranks.
    scored["s"][0]["gru-deseason-log-small"] = [0.806289 * (1 - 1e-6)]
    assert choice._plans(scored, [0])["series"]["s"][0][1] == "gru-deseason-log-small"


def test_log_recipes_are_decided_on_the_part_the_networks_train_on():
    y = _series(60, 1)
    y[-H:] = 0.0  # a zero in the held-out part only: the networks never see it
    assert choice.log_allowed({"s": y}, H) is True
    y[10] = 0.0
    assert choice.log_allowed({"s": y}, H) is False
