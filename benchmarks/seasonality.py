"""Measure the strict seasonality decision's statistics on real and synthetic series, as a Markdown table.

Every series is decided on the training part a forecast run fits its transform on: the steps before
the validation part before the last ``horizon`` steps (:func:`tasks.forecasting.preprocessing.train_part_end`,
``split.validation = 0.15``). For M4 files that is the train file's last horizon, not M4's test file.
Where M4's test and the strict decision differ, a proxy for what the change does: Naive2 (naive on
the seasonally adjusted series, factors from everything before the last horizon) with each
decision, scored by MASE on the last horizon. The synthetic null series (white noise, random walk)
are also drawn 500 times at several lengths, to show the strength they reach by chance::

    PYTHONPATH=. python -m benchmarks.seasonality [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from tasks import paths
from tasks.forecasting import seasonality
from tasks.forecasting.preprocessing import train_part_end
from tasks.forecasting.sources.m4 import read_m4_wide
from tasks.forecasting.sources.tabular import read_series_csv

VALIDATION = 0.15


def _train(values: np.ndarray, horizon: int) -> np.ndarray:
    return values[: train_part_end(values.size - horizon, horizon, VALIDATION)]


def synthetic(n: int = 264) -> dict[str, np.ndarray]:
    """The synthetic monthly series, each of ``n`` steps (before the cut)."""
    t = np.arange(n)
    out: dict[str, np.ndarray] = {}
    # A slow cycle: amplitude 10 around 100; noise sd as a fraction of the cycle's own sd (10 / sqrt 2).
    for period in (132, 127):
        for noise in (0.1, 0.3, 1.0):
            for seed in (0, 1, 2):
                rng = np.random.default_rng(seed)
                out[f"sine {period} noise {noise:g} seed {seed}"] = (
                    100 + 10 * np.sin(2 * np.pi * t / period) + rng.normal(0, noise * 10 / math.sqrt(2), n))
    for seed in (0, 1, 2):
        rng = np.random.default_rng(seed)
        out[f"white noise seed {seed}"] = 100 + rng.normal(0, 1, n)
        out[f"random walk seed {seed}"] = 100 + np.cumsum(rng.normal(0, 1, n))
    for amplitude in (0.5, 1.0, 2.0):
        rng = np.random.default_rng(0)
        out[f"trend + season amp {amplitude:g} (noise sd 1)"] = (
            50 + 0.2 * t + amplitude * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n))
    return out


def _naive2(train: np.ndarray, horizon: int, m: int, seasonal: bool) -> np.ndarray:
    """M4's Naive2 with the seasonality decision given (the baseline keeps M4's own test)."""
    if not seasonal or np.any(train <= 0):
        return np.full(horizon, train[-1])
    figure = seasonality.multiplicative_seasonal_indices(train, m)
    return train[-1] / figure[(train.size - 1) % m] * figure[np.arange(train.size, train.size + horizon) % m]


def row(name: str, values: np.ndarray, horizon: int, m: int, changed: list[str]) -> str:
    """One table row for the training part of ``values`` (the last ``horizon`` steps are its test)."""
    train = _train(values, horizon)
    d = seasonality.decide_season(train, m)
    m4 = seasonality.seasonality_test(train, m)
    factors = "–"
    if m4 and np.all(train > 0):
        f = seasonality.multiplicative_seasonal_indices(train, m)
        factors = f"{f.min():.2f}–{f.max():.2f}"
    if m4 != d.seasonal:
        # What the changed decision does to a seasonally adjusted naive forecast of the test part,
        # scored by MASE (scale: the whole history's in-sample seasonal naive error, as M4's).
        history, test = values[:-horizon], values[-horizon:]
        lag = m if history.size > m else 1
        scale = np.mean(np.abs(history[lag:] - history[:-lag]))
        mase = [np.mean(np.abs(_naive2(history, horizon, m, s) - test)) / scale for s in (m4, d.seasonal)]
        changed.append(f"| {name} | {mase[0]:.3f} | {mase[1]:.3f} |")
    return (f"| {name} | {m} | {d.n} | {d.full_seasons} | {d.acf:.2f} | {d.acf_limit:.2f} | {'yes' if m4 else 'no'} | "
            f"{factors} | {d.strength:.2f} | {d.strength_limit:.2f} | {d.dominant_period:.1f} | "
            f"{'**yes**' if d.seasonal else 'no'} |")


def null_strengths(kind: str, seasons: int, m: int = 12, draws: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Strengths and strict decisions of ``draws`` white-noise or random-walk series of ``seasons`` full seasons."""
    rng = np.random.default_rng(123)
    strengths, kept = [], []
    for _ in range(draws):
        e = rng.normal(0, 1, seasons * m)
        x = 100 + (np.cumsum(e) if kind == "random walk" else e)
        d = seasonality.decide_season(x, m, min_seasons=3)
        strengths.append(d.strength)
        kept.append(d.strength >= d.strength_limit)
    return np.asarray(strengths), np.asarray(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=paths.PROJECT_ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    print("| series | m | n (train) | full seasons | acf(m) | limit | M4 test | M4 factors | strength | strength limit "
          "| dominant period | strict |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    changed: list[str] = []
    for name, path in [("monthly milk", paths.PROJECT_ROOT / "data" / "monthly-milk.csv"),
                       ("alcohol sales", paths.PROJECT_ROOT / "data" / "alcohol-sales.csv"),
                       ("champagne sales", args.shared / "series" / "champagne-sales.csv")]:
        table = read_series_csv(path, missing="error")
        print(row(name, table.frame["value"].to_numpy(dtype=np.float64), 12, 12, changed))
    for sid, (_, values) in read_m4_wide(args.shared / "m4" / "Monthly-first10-train.csv").items():
        print(row(f"M4 {sid}", values, 18, 12, changed))
    hourly = read_m4_wide(args.shared / "m4" / "Hourly-train.csv")
    shown = set(list(hourly)[:: max(1, len(hourly) // 8)][:8])
    for sid, (_, values) in hourly.items():  # every series decided; eight shown, every changed one scored
        line = row(f"M4 {sid}", values, 48, 24, changed)
        if sid in shown:
            print(line)
    weekly = read_m4_wide(args.shared / "m4" / "Weekly-train.csv")
    for sid in list(weekly)[:3]:
        print(row(f"M4 {sid}", weekly[sid][1], 13, 1, changed))
    for name, values in synthetic().items():
        print(row(name, values, 12, 12, changed))
    print()
    print("| series where the decisions differ | Naive2 MASE, M4's decision | Naive2 MASE, strict decision |")
    print("|---|---|---|")
    print("\n".join(changed))
    real = [line for line in changed if line.startswith("| M4 ")]
    pairs = np.array([[float(c) for c in line.strip("| ").split(" | ")[1:]] for line in real])
    if real:
        print(f"\nM4 series decided differently: {len(real)}; the strict decision's Naive2 better on "
              f"{int(np.sum(pairs[:, 1] < pairs[:, 0]))}; mean MASE {pairs[:, 0].mean():.3f} (M4's) vs "
              f"{pairs[:, 1].mean():.3f} (strict)")
    print()
    print("| null series | full seasons (m = 12) | mean strength | 95th percentile | 99th percentile | share >= "
          f"{seasonality.MIN_STRENGTH:g} | share >= the strict limit |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("white noise", "random walk"):
        for seasons in (3, 4, 5, 6, 8, 12, 20):
            s, kept = null_strengths(kind, seasons)
            print(f"| {kind} | {seasons} | {s.mean():.2f} | {np.quantile(s, 0.95):.2f} | {np.quantile(s, 0.99):.2f} | "
                  f"{np.mean(s >= seasonality.MIN_STRENGTH):.3f} | {np.mean(kept):.3f} |")

if __name__ == "__main__":
    main()
