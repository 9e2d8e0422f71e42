"""Is a series seasonal, and by which factors: M4's autocorrelation test, a stricter decision, the decomposition.

Two decisions live here. :func:`seasonality_test` is M4's 90 % autocorrelation test, exactly as the
competition's R benchmarks apply it: the statistical baselines (:mod:`.statistical`: Naive2, Theta)
keep it, so their scores reproduce M4's published ones. :func:`decide_season` is the stricter rule
seqflow uses where it decides for itself, in the networks' preprocessing (:mod:`.preprocessing`,
``preprocess.deseasonalise = "classical"``): M4's test must pass, the training part must hold at
least :data:`MIN_SEASONS` full seasons, and the seasonal pattern must be strong against the
remainder (:func:`seasonal_strength`, Wang, Smith & Hyndman's measure). A slow cycle (an 11-year
cycle sampled monthly) has autocorrelation at lag 12 that passes M4's test, but no pattern that
repeats every 12 steps: its strength is near 0, and the strict rule refuses it.

Pure NumPy (pandas only for :func:`season_decisions`' table), importable without statsmodels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

# z of a one-sided 95 % normal quantile: M4's "90 % autocorrelation test" is two-sided at 90 %.
_TCRIT = 1.645
# The strict decision's thresholds; docs/results/2026-12-03-seasonality-test.md holds the measurements.
# The classical decomposition's per-position means fit noise: with k full seasons the moving average
# leaves about k - 1 detrended values per position, and white noise scores a strength of about
# 1 / (k - 1) by chance (0.50 at 3 seasons, 0.33 at 4, 0.20 at 6: measured). Hence at least four
# seasons, and a strength of at least twice that chance level where it exceeds MIN_STRENGTH.
MIN_SEASONS = 4
# Strength of seasonality F_S = max(0, 1 - Var(R) / Var(S + R)) at or above which a pattern is kept,
# from six full seasons on (below, the chance floor above is higher).
MIN_STRENGTH = 0.4


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Compute the sample autocorrelation at lags ``1..max_lag``, as R's ``acf`` computes it.

    Args:
        values: ``(time,)`` series.
        max_lag: the largest lag.

    Returns:
        ``(max_lag,)`` autocorrelations; NaN everywhere for a constant series.
    """
    x = np.asarray(values, dtype=np.float64)
    centred = x - x.mean()
    denominator = float(centred @ centred)
    if denominator == 0.0:
        return np.full(max_lag, np.nan)
    return np.array([centred[k:] @ centred[:-k] for k in range(1, max_lag + 1)]) / denominator


def seasonality_test(train: np.ndarray, season_length: int) -> bool:
    """Tell whether ``train`` is seasonal at lag ``season_length``, by M4's 90 % autocorrelation test.

    Seasonal when ``|acf(m)| > 1.645 * sqrt((1 + 2 * sum_{k<m} acf(k)^2) / n)``. As in M4's R code:
    a series shorter than three seasons is never seasonal, and neither is one where ``m`` exceeds
    R's default ``acf`` lag limit ``floor(10 * log10(n))`` (the statistic is NA there, read as
    False). The Python benchmark script leaves ``acf(1)`` unsquared; the R statistical benchmarks,
    whose scores are the published ones, square it, and so does this.

    Args:
        train: ``(time,)`` training values.
        season_length: ``m``, steps per season.

    Returns:
        True when the seasonal autocorrelation is significant.
    """
    x = np.asarray(train, dtype=np.float64)
    if season_length < 1:
        raise ValueError(f"season_length={season_length}: must be >= 1")
    n = x.size
    if season_length == 1 or n < 3 * season_length:
        return False
    if season_length > _acf_lag_max(n):
        return False
    acf, limit = acf_statistic(x, season_length)
    if math.isnan(acf):
        return False
    return bool(abs(acf) > limit)


def _acf_lag_max(n: int) -> int:
    """R's default ``acf`` lag limit for ``n`` values, ``floor(10 * log10(n))``, at most ``n - 1``."""
    return min(math.floor(10 * math.log10(n)), n - 1) if n > 1 else 0


def acf_statistic(train: np.ndarray, season_length: int) -> tuple[float, float]:
    """Compute M4's statistic at lag ``m``: the autocorrelation and its 90 % limit.

    Args:
        train: ``(time,)`` training values, longer than ``season_length``.
        season_length: ``m`` (>= 1).

    Returns:
        ``(acf(m), 1.645 * sqrt((1 + 2 * sum_{k<m} acf(k)^2) / n))``; both NaN for a constant series
        or one no longer than ``m``.
    """
    x = np.asarray(train, dtype=np.float64)
    if x.size <= season_length:
        return math.nan, math.nan
    acf = autocorrelation(x, season_length)
    if np.isnan(acf).any():
        return math.nan, math.nan
    limit = _TCRIT / math.sqrt(x.size) * math.sqrt(1.0 + 2.0 * float(np.sum(acf[:-1] ** 2)))
    return float(acf[-1]), float(limit)


def _centred_moving_average(x: np.ndarray, m: int) -> np.ndarray:
    """``(time,)`` R ``decompose``'s trend: a centred MA of order ``m`` (``2 x m`` when even), NaN at the ends."""
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    half = len(weights) // 2
    trend = np.full(x.size, np.nan)
    trend[half : x.size - half] = np.convolve(x, weights, mode="valid")
    return trend


def multiplicative_seasonal_indices(train: np.ndarray, season_length: int) -> np.ndarray:
    """Estimate seasonal indices by classical multiplicative decomposition (R's ``decompose``).

    A centred moving average of order ``m`` (``2 x m`` when ``m`` is even) is the trend; the index
    for position ``j`` is the mean of ``value / trend`` over steps ``t = j, j + m, ...``, and the
    indices are normalised to average 1.

    Args:
        train: ``(time,)`` positive training values, at least two seasons long.
        season_length: ``m``, steps per season (>= 2).

    Returns:
        ``(season_length,)`` indices; step ``t`` of the series (0-based, counting on past the end
        of ``train``) has index ``indices[t % season_length]``.
    """
    x = np.asarray(train, dtype=np.float64)
    m = season_length
    if m < 2:
        raise ValueError(f"season_length={m}: a decomposition needs at least 2 steps per season")
    if x.size < 2 * m:
        raise ValueError(f"train has {x.size} values; a decomposition with season_length={m} needs >= {2 * m}")
    ratio = x / _centred_moving_average(x, m)
    figure = np.array([np.nanmean(ratio[j::m]) for j in range(m)])
    return figure / figure.mean()


def seasonal_strength(train: np.ndarray, season_length: int) -> float:
    """Measure the strength of seasonality ``F_S = max(0, 1 - Var(R) / Var(S + R))`` of the classical decomposition.

    Wang, Smith & Hyndman (2006), as in Hyndman & Athanasopoulos' *fpp3* (section 4.3), with the
    classical decomposition in place of STL: its seasonal component is the fixed per-position
    pattern that :func:`multiplicative_seasonal_indices` divides out, so ``F_S`` says how much of
    the detrended series those factors explain. A positive series is decomposed on the log scale
    (multiplicative, as the factors are); any other additively. ``S`` is the per-position mean of
    the detrended values, centred; ``R`` what is left. Only steps where the moving average is
    defined count.

    Args:
        train: ``(time,)`` training values.
        season_length: ``m`` (>= 2).

    Returns:
        ``F_S`` in ``[0, 1]``: about 0 when no pattern repeats every ``m`` steps, 1 for a pure
        season; NaN for a series shorter than two seasons. A series with no variation left after
        the trend (a straight line) scores 0.
    """
    x = np.asarray(train, dtype=np.float64)
    m = season_length
    if m < 2:
        raise ValueError(f"season_length={m}: a strength of seasonality needs at least 2 steps per season")
    if x.size < 2 * m:
        return math.nan
    y = np.log(x) if np.all(x > 0) else x
    detrended = y - _centred_moving_average(y, m)
    pattern = np.array([np.nanmean(detrended[j::m]) for j in range(m)])
    pattern -= pattern.mean()
    valid = ~np.isnan(detrended)
    d = detrended[valid]
    remainder = d - pattern[np.flatnonzero(valid) % m]
    total = float(np.var(d))
    # Relative floor: a straight line leaves rounding noise only, which is no season.
    if total <= 1e-20 * max(float(np.var(y)), 1e-300):
        return 0.0
    return float(max(0.0, 1.0 - float(np.var(remainder)) / total))


def dominant_period(train: np.ndarray) -> float:
    """Find the period of the highest peak of the periodogram, after a straight-line trend is removed.

    A diagnostic for a refusal: a slow cycle shows as a period far longer than the season tested.
    The periodogram is ``|FFT|^2`` at the Fourier frequencies ``k / n``, ``k = 1 .. n // 2``; the
    longest period it can name is the whole series.

    Args:
        train: ``(time,)`` values.

    Returns:
        ``n / k`` steps of the strongest frequency; NaN for fewer than 4 values or no variation
        beyond the line.
    """
    x = np.asarray(train, dtype=np.float64)
    n = x.size
    if n < 4:
        return math.nan
    t = np.arange(n, dtype=np.float64)
    residual = x - np.polyval(np.polyfit(t, x, 1), t)
    if float(np.var(residual)) <= 1e-20 * max(float(np.var(x)), 1e-300):
        return math.nan
    power = np.abs(np.fft.rfft(residual))[1 : n // 2 + 1] ** 2
    return float(n / (1 + int(np.argmax(power))))


@dataclass(frozen=True)
class SeasonDecision:
    """The strict seasonality decision on one series' training part, with every statistic it read."""

    period: int  # m, the season length tested
    n: int  # values in the training part
    full_seasons: int  # n // m
    acf: float  # autocorrelation at lag m (NaN when undefined)
    acf_limit: float  # M4's 90 % limit for it (NaN when undefined)
    strength: float  # F_S of the classical decomposition, in [0, 1] (NaN under two seasons)
    strength_limit: float  # the least strength kept at this length: max(min_strength, 2 / (full_seasons - 1))
    dominant_period: float  # steps per cycle of the periodogram's highest peak (NaN when undefined)
    seasonal: bool  # deseasonalise by m?
    reason: str  # one line a person reads: which rule decided, with its figures


def decide_season(
    train: np.ndarray, season_length: int, *, min_seasons: int = MIN_SEASONS, min_strength: float = MIN_STRENGTH
) -> SeasonDecision:
    """Decide whether ``train`` is seasonal at ``m``, strictly: M4's test, enough seasons and a strong pattern.

    Seasonal only when all three hold, checked in this order (the reason names the first that
    fails): at least ``min_seasons`` full seasons; M4's 90 % autocorrelation test
    (:func:`seasonality_test`); a strength of seasonality (:func:`seasonal_strength`) of at least
    ``max(min_strength, 2 / (full_seasons - 1))``, twice what white noise of that length scores by
    chance when that is the higher (under six seasons at the default). A series with a value <= 0
    is decided the same way (on the additive strength); multiplicative factors are the caller's
    concern.

    Args:
        train: ``(time,)`` the training part only.
        season_length: ``m``, steps per season (>= 1; 1 is never seasonal).
        min_seasons: the fewest full seasons trusted (>= 3, M4's own floor).
        min_strength: the least strength kept from six seasons on, in ``[0, 1]``.

    Returns:
        The decision and its statistics.

    Raises:
        ValueError: a bad ``season_length``, ``min_seasons`` or ``min_strength``, or a ``train``
            that is not one finite series.
    """
    x = np.asarray(train, dtype=np.float64)
    m = season_length
    if m < 1:
        raise ValueError(f"season_length={m}: must be >= 1")
    if min_seasons < 3:
        raise ValueError(f"min_seasons={min_seasons}: must be >= 3 (M4's test needs three seasons)")
    if not 0.0 <= min_strength <= 1.0:
        raise ValueError(f"min_strength={min_strength}: must lie in [0, 1]")
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"train has shape {x.shape}; must be one finite series of shape (time,)")
    n = x.size
    seasons = n // m
    acf, limit = acf_statistic(x, m) if m > 1 else (math.nan, math.nan)
    strength = seasonal_strength(x, m) if m > 1 else math.nan
    strength_limit = max(min_strength, 2.0 / (seasons - 1)) if seasons > 1 else math.nan
    period = dominant_period(x)

    def decided(seasonal: bool, reason: str) -> SeasonDecision:
        return SeasonDecision(period=m, n=n, full_seasons=seasons, acf=acf, acf_limit=limit, strength=strength,
                              strength_limit=strength_limit, dominant_period=period, seasonal=seasonal, reason=reason)

    if m == 1:
        return decided(False, "m=1: no season to test")
    if seasons < min_seasons:
        return decided(False, f"{seasons} full seasons < {min_seasons}: {n} values are too few to tell "
                              f"an m={m} pattern from chance")
    if not seasonality_test(x, m):
        if math.isnan(acf):
            why = "acf undefined (a constant series)"
        elif m > _acf_lag_max(n):
            why = f"lag {m} beyond R's acf limit floor(10*log10({n})) = {_acf_lag_max(n)}"
        else:
            why = f"|acf({m})| {abs(acf):.2f} <= {limit:.2f}"
        return decided(False, f"{why}: M4's 90 % autocorrelation test finds no season at m={m}")
    cycle = f"; the dominant period is {period:.0f} steps" if not math.isnan(period) else ""
    if not strength >= strength_limit:
        return decided(False, f"strength {strength:.2f} < {strength_limit:.2f}: the m={m} pattern is too weak "
                              f"against the remainder (acf({m}) {acf:.2f} passes M4's test{cycle})")
    return decided(True, f"seasonal at m={m}: strength {strength:.2f} >= {strength_limit:.2f}, acf({m}) {acf:.2f} > "
                         f"{limit:.2f}, {seasons} full seasons")


def season_decisions(
    arrays: Mapping[str, np.ndarray], season_length: int, *, min_seasons: int = MIN_SEASONS,
    min_strength: float = MIN_STRENGTH,
) -> pd.DataFrame:
    """Decide every series' season, one row each, for a run to log.

    Args:
        arrays: series id → ``(time,)`` its training part.
        season_length: ``m``, the same for every series.
        min_seasons: see :func:`decide_season`.
        min_strength: see :func:`decide_season`.

    Returns:
        Columns ``series_id`` then every :class:`SeasonDecision` field, in ``arrays``' order.
    """
    columns = ["series_id", *(f.name for f in fields(SeasonDecision))]
    rows = [{"series_id": str(key), **asdict(decide_season(values, season_length, min_seasons=min_seasons,
                                                          min_strength=min_strength))}
            for key, values in arrays.items()]
    return pd.DataFrame(rows, columns=columns)
