import math

import pytest

from tasks.operations.gate import decide


def test_the_first_challenger_is_promoted():
    d = decide({"mase": 0.9}, None)
    assert d.promote and d.champion is None and d.reason == "no champion yet: the first challenger is promoted"


@pytest.mark.parametrize(("challenger", "promote"), [(0.78, True), (0.784, False), (0.79, False), (0.9, False)])
def test_the_challenger_must_win_by_the_margin(challenger, promote):
    d = decide({"mase": challenger}, {"mase": 0.8}, "mase", 0.02)
    assert d.promote is promote
    assert d.threshold == pytest.approx(0.784)
    assert ("<" if promote else ">=") in d.reason


def test_a_non_finite_challenger_is_never_promoted_and_a_non_finite_champion_is_replaced():
    assert not decide({"mase": math.nan}, {"mase": 0.8}).promote
    assert not decide({}, None).promote
    assert decide({"mase": 0.9}, {"mase": math.inf}).promote


def test_the_metric_and_margin_are_checked():
    with pytest.raises(ValueError, match="metric = 'owa': unknown; valid metrics: mase, smape, rmse, mae"):
        decide({"owa": 1.0}, None, "owa")
    with pytest.raises(ValueError, match=r"margin = 1: must be in \[0, 1\)"):
        decide({"mase": 1.0}, None, "mase", 1)


def test_the_decision_row_says_what_was_compared():
    row = decide({"smape": 10.0}, {"smape": 12.0}, "smape", 0.1).as_row()
    assert row == {"decision": "promote", "metric": "smape", "challenger": "10.0000", "champion": "12.0000",
                   "threshold": "10.8000", "reason": "challenger smape 10.0000 < 10.8000 (champion 12.0000 less 10%)"}


@pytest.mark.parametrize(("challenger", "promote"), [(0.52, True), (0.51, False), (0.505, False), (0.4, False)])
def test_higher_is_better_the_challenger_must_score_above_the_margin(challenger, promote):
    d = decide({"wordsim353_spearman": challenger}, {"wordsim353_spearman": 0.5}, "wordsim353_spearman", 0.02,
               higher_is_better=True)
    assert d.promote is promote and d.higher_is_better
    assert d.threshold == pytest.approx(0.51)
    assert d.reason.startswith(f"challenger wordsim353_spearman {challenger:.4f} {'>' if promote else '<='} 0.5100 "
                               "(champion 0.5000 plus 2%)")


def test_higher_is_better_asks_for_a_better_score_when_the_champions_is_negative():
    d = decide({"simlex999_spearman": -0.197}, {"simlex999_spearman": -0.2}, "simlex999_spearman", 0.02,
               higher_is_better=True)
    assert d.threshold == pytest.approx(-0.196) and not d.promote
    assert decide({"simlex999_spearman": -0.19}, {"simlex999_spearman": -0.2}, "simlex999_spearman", 0.02,
                  higher_is_better=True).promote
    assert decide({"s": 0.0}, {"s": 0.0}, "s", 0.0, higher_is_better=True).promote is False  # a tie keeps the champion


def test_higher_is_better_first_run_nan_and_unscored_champion():
    assert decide({"s": 0.1}, None, "s", higher_is_better=True).promote
    assert not decide({"s": math.nan}, None, "s", higher_is_better=True).promote
    assert not decide({}, {"s": 0.3}, "s", higher_is_better=True).promote
    d = decide({"s": 0.1}, {}, "s", higher_is_better=True)
    assert d.promote and d.reason == "the champion's s is nan (it could not be scored): the challenger replaces it"


def test_an_error_metric_cannot_be_compared_higher_is_better():
    with pytest.raises(ValueError, match=r"metric = 'mase' is lower-is-better \(mase, smape, rmse, mae\)"):
        decide({"mase": 1.0}, None, "mase", higher_is_better=True)
    with pytest.raises(ValueError, match="metric = 'wordsim353_spearman': unknown"):
        decide({"wordsim353_spearman": 1.0}, None, "wordsim353_spearman")
