"""The strict seasonality decision: slow cycles, noise and short series refused; milk kept; every reason readable.

M4's own test and the classical indices are worked by hand in ``test_statistical.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tasks import paths
from tasks.forecasting import seasonality
from tasks.forecasting.preprocessing import train_part_end
from tasks.forecasting.seasonality import SeasonDecision, decide_season, season_decisions, seasonal_strength

M = 12


def _slow_cycle(seed: int, noise: float, n: int = 216, period: int = 132) -> np.ndarray:
    """An 11-year cycle sampled monthly (amplitude 10 around 100) plus Gaussian noise of sd ``noise``."""
    t = np.arange(n)
    return 100 + 10 * np.sin(2 * np.pi * t / period) + np.random.default_rng(seed).normal(0, noise, n)


def _milk_train() -> np.ndarray:
    """Monthly milk's training part as a 12-month forecast run fits on it (``split.validation = 0.15``)."""
    values = pd.read_csv(paths.PROJECT_ROOT / "data" / "monthly-milk.csv").iloc[:, 1].to_numpy(dtype=np.float64)
    return values[: train_part_end(values.size - 12, 12, 0.15)]


@pytest.mark.parametrize("noise", [0.7, 2.0, 7.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_slow_cycle_is_refused_by_its_weak_strength(seed, noise):
    x = _slow_cycle(seed, noise)
    assert seasonality.seasonality_test(x, M)  # M4's test takes the cycle for a 12-month season
    d = decide_season(x, M)
    assert not d.seasonal
    assert d.acf > d.acf_limit and d.strength < 0.2 and d.strength_limit == seasonality.MIN_STRENGTH
    assert d.reason.startswith(f"strength {d.strength:.2f} < 0.40: the m=12 pattern is too weak against the remainder")
    # The periodogram's peak is the slow cycle (as long as 216 values resolve it), not a season.
    assert d.dominant_period >= 100 and "dominant period is" in d.reason


def test_milk_is_seasonal_with_its_statistics():
    x = _milk_train()
    d = decide_season(x, M)
    assert d.seasonal and d.n == x.size == 133 and d.full_seasons == 11 and d.period == M
    assert d.acf > d.acf_limit > 0 and d.strength > 0.9 and round(d.dominant_period) == M
    assert d.reason == (f"seasonal at m=12: strength {d.strength:.2f} >= 0.40, acf(12) {d.acf:.2f} > "
                        f"{d.acf_limit:.2f}, 11 full seasons")


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_white_noise_and_a_random_walk_are_refused(seed):
    rng = np.random.default_rng(seed)
    noise = decide_season(100 + rng.normal(0, 1, 216), M)
    walk = decide_season(100 + np.cumsum(rng.normal(0, 1, 216)), M)
    assert not noise.seasonal and not walk.seasonal
    assert noise.strength < 0.2 and walk.strength < 0.2
    # Noise mostly fails M4's test (which passes it by chance one time in ten, at lag 12 of seed 2 here);
    # a walk has autocorrelation at every lag, so only its strength refuses it.
    assert (noise.reason == f"|acf(12)| {abs(noise.acf):.2f} <= {noise.acf_limit:.2f}: M4's 90 % autocorrelation "
                            "test finds no season at m=12") or noise.reason.startswith(f"strength {noise.strength:.2f} < 0.40")
    assert walk.acf > walk.acf_limit and walk.reason.startswith(f"strength {walk.strength:.2f} < 0.40")


def test_too_few_seasons_are_refused_naming_the_count():
    t = np.arange(3 * M + 5)
    clean = 100 + 20 * np.sin(2 * np.pi * t / M)  # a perfect season, but three of them
    d = decide_season(clean, M)
    assert not d.seasonal and d.full_seasons == 3 and d.strength == pytest.approx(1.0)
    assert d.reason == "3 full seasons < 4: 41 values are too few to tell an m=12 pattern from chance"
    assert "full seasons <" not in decide_season(clean, M, min_seasons=3).reason


def test_short_series_need_a_stronger_pattern():
    t = np.arange(4 * M)
    season = 100 + 20 * np.sin(2 * np.pi * t / M)
    # Four seasons: the limit is 2 / (4 - 1) = 0.67, twice what white noise of this length scores by chance.
    kept = decide_season(season + np.random.default_rng(1).normal(0, 10, t.size), M)
    assert kept.seasonal and kept.strength_limit == pytest.approx(2 / 3) and kept.strength > 2 / 3
    weak = decide_season(season + np.random.default_rng(1).normal(0, 15, t.size), M)
    assert 0.4 < weak.strength < 2 / 3 and weak.acf > weak.acf_limit  # would pass with 0.40
    assert not weak.seasonal and weak.reason.startswith(f"strength {weak.strength:.2f} < 0.67")


def test_a_season_of_one_step_is_never_seasonal():
    d = decide_season(np.arange(1.0, 50.0), 1)
    assert not d.seasonal and d.reason == "m=1: no season to test" and math.isnan(d.strength)


def test_the_decision_is_deterministic():
    x = _slow_cycle(5, 2.0)
    assert decide_season(x, M) == decide_season(x.copy(), M)
    arrays = {"milk": _milk_train(), "cycle": x}
    pd.testing.assert_frame_equal(season_decisions(arrays, M), season_decisions(dict(arrays), M))


def test_strength_of_a_pure_season_a_line_and_a_short_series():
    t = np.arange(60, dtype=np.float64)
    assert seasonal_strength(100 * np.exp(0.1 * np.sin(2 * np.pi * t / M)), M) == pytest.approx(1.0)
    assert seasonal_strength(-10 + 0.5 * t, M) == 0.0  # additive: the moving average is the line itself
    assert math.isnan(seasonal_strength(t[: 2 * M - 1] + 1, M))
    # Zero or negative values: the additive decomposition, same answer for a shifted pure season.
    assert seasonal_strength(np.sin(2 * np.pi * t / M), M) == pytest.approx(1.0)


def test_season_decisions_has_a_row_per_series_with_every_field():
    arrays = {"milk": _milk_train(), "cycle": _slow_cycle(0, 2.0), "short": np.arange(1.0, 30.0)}
    table = season_decisions(arrays, M)
    assert list(table.columns) == ["series_id", "period", "n", "full_seasons", "acf", "acf_limit", "strength",
                                   "strength_limit", "dominant_period", "seasonal", "reason"]
    assert table["series_id"].tolist() == ["milk", "cycle", "short"]
    assert table["seasonal"].tolist() == [True, False, False]
    assert table.iloc[1].to_dict() == {"series_id": "cycle", **decide_season(arrays["cycle"], M).__dict__}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"season_length": 0}, r"season_length=0: must be >= 1"),
    ({"season_length": 12, "min_seasons": 2}, r"min_seasons=2: must be >= 3"),
    ({"season_length": 12, "min_strength": 1.5}, r"min_strength=1.5: must lie in \[0, 1\]"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        decide_season(np.arange(1.0, 100.0), **kwargs)


def test_a_decision_is_frozen():
    d = decide_season(_milk_train(), M)
    assert isinstance(d, SeasonDecision)
    with pytest.raises(AttributeError):
        d.seasonal = False  # type: ignore[misc]
