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
