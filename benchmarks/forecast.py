"""Forecast benchmark: the statistical baselines on M4 Hourly and Weekly beside the official scores.

``seqflow bench forecast`` (or ``python -m benchmarks.forecast``) reads
``../shared/data/m4/{Hourly,Weekly}-{train,test}.csv`` (next to the project's root; a user's clone
may lack it, so no test depends on it and the part is skipped without it), forecasts every series'
test horizon with Naive2, seasonal naive, Holt-Winters (plain and damped) and Theta, refit on each
series' training part, and prints sMAPE / MASE / OWA with the M4 definitions beside the published
numbers, with the wall time of each model. Then the milk series (``data/``), last 12 months held
out, with every baseline, and a 3-origin rolling backtest of it. Then the forecasting flow itself,
each run as a user runs it (``seqflow run forecast --config ... --set seed=S``) and tracked in MLflow:
on milk, last 12 months held out, the best recurrent configuration (``flows/configs/milk.toml``: a
GRU ensemble on deseasonalised, logged, level-normalised windows), the same with one network, a plain
GRU without preprocessing, each over three seeds (mean and spread), and the course recipe
(``flows/configs/milk_course.toml``), beside the baselines the flow scored on the very same months;
then a 4-origin rolling backtest of the best configuration on milk and on alcohol sales
(``flows/configs/sales.toml``) beside every baseline. With ``m4_flow`` (``--m4-flow``, off by default:
minutes per set) the flow also runs the M4 presets (``flows/configs/m4_hourly.toml``,
``m4_weekly.toml``) on the official files, its best recurrent model beside the baselines it scored on
the same series in the same run, and the published figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from tasks.forecasting.backtest import Forecaster, run_backtest
from tasks.forecasting.metrics import summarize
from tasks.forecasting.sources.m4 import read_m4
from tasks.forecasting.sources.tabular import read_series_csv
from tasks.forecasting.statistical import baseline_forecasters

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"
MILK = PROJECT / "data" / "monthly-milk.csv"

M4_MODELS = ("naive2", "seasonal_naive", "holt_winters", "holt_winters_damped", "theta")
# Published M4 scores (sMAPE, MASE) from the competition's results workbook.
OFFICIAL = {
    ("Hourly", "naive2"): (18.383, 2.395),
    ("Hourly", "seasonal_naive"): (13.912, 1.193),
    ("Hourly", "theta"): (18.138, 2.455),
    ("Weekly", "naive2"): (9.161, 2.777),
    ("Weekly", "seasonal_naive"): (9.161, 2.777),
    ("Weekly", "theta"): (9.093, 2.637),
}
# Measured by a colleague on the same split (milk, last 12 months): (RMSE, MASE).
MILK_REFERENCE = {"seasonal_naive": (13.2, 0.446), "holt_winters": (11.9, 0.483), "course recipe": (31.5, 1.30)}
CONFIGS = PROJECT / "flows" / "configs"
SEEDS = (42, 43, 44)
_PLAIN = ["preprocess.deseasonalise=off", "preprocess.log=false", "preprocess.level=off"]
# label, preset, overrides, seeds: every recurrent row of the milk table (last 12 months held out).
MILK_RECURRENT = (
    ("gru ×5 ensemble, deseasonalised + log + seasonal level (milk.toml)", CONFIGS / "milk.toml", [], SEEDS),
    ("the same, one network (model.ensemble=1)", CONFIGS / "milk.toml", ["model.ensemble=1"], SEEDS),
    ("the same, no preprocessing (one network, standardised only)", CONFIGS / "milk.toml",
     ["model.ensemble=1", *_PLAIN], SEEDS),
    ("course recipe (milk_course.toml: lstm 100 relu, recursive)", CONFIGS / "milk_course.toml", [], (42,)),
)
# The M4 presets the flow runs with --m4-flow, and the published OWA it is compared with.
M4_FLOW_PRESETS = {"Hourly": CONFIGS / "m4_hourly.toml", "Weekly": CONFIGS / "m4_weekly.toml"}
OFFICIAL_OWA = {
    ("Hourly", "naive2"): 1.000, ("Hourly", "seasonal_naive"): 0.627, ("Hourly", "theta"): 1.006,
    ("Hourly", "ES-RNN"): 0.440,
    ("Weekly", "naive2"): 1.000, ("Weekly", "seasonal_naive"): 1.000, ("Weekly", "theta"): 0.971,
    ("Weekly", "ES-RNN"): 0.851,
}
BACKTESTS = (("milk", CONFIGS / "milk.toml"), ("alcohol sales", CONFIGS / "sales.toml"))
BACKTEST_FOLDS = 4


def _chunk_backtest(args: tuple[pd.DataFrame, dict[str, Forecaster], int, int]) -> pd.DataFrame:
    frame, forecasters, horizon, season_length = args
    return run_backtest(frame, forecasters, horizon, season_length).scores


def _chunks(frame: pd.DataFrame, n_chunks: int) -> list[pd.DataFrame]:
    ids = frame["series_id"].unique()
    return [frame[frame["series_id"].isin(part)] for part in np.array_split(ids, n_chunks) if len(part)]


def m4_scores(
    name: str, workers: int, models: tuple[str, ...] = M4_MODELS, progress: Callable[[str], None] | None = None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Backtest the baselines on one M4 frequency at its official holdout (one origin).

    Args:
        name: ``Hourly`` or ``Weekly`` (files ``{name}-train.csv`` and ``{name}-test.csv``).
        workers: processes; each model's series are spread over them.
        models: names from :func:`tasks.forecasting.statistical.baseline_forecasters`.
        progress: called with a line as each model finishes.

    Returns:
        Per-series scores of every model, and each model's wall time in seconds.
    """
    data = read_m4(SHARED_DATA / "m4" / f"{name}-train.csv", SHARED_DATA / "m4" / f"{name}-test.csv")
    assert data.test is not None
    frame = pd.concat([data.train, data.test], ignore_index=True)
    every = baseline_forecasters(data.season_length)
    chunks = _chunks(frame, max(1, workers) * 8)
    parts, wall = [], {}
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        for model in models:
            began = time.perf_counter()
            jobs = [(chunk, {model: every[model]}, data.horizon, data.season_length) for chunk in chunks]
            parts.extend(pool.map(_chunk_backtest, jobs))
            wall[model] = time.perf_counter() - began
            if progress is not None:
                progress(f"{name} {model}: {len(chunks)} chunks of series, {wall[model]:.1f} s wall")
    return pd.concat(parts, ignore_index=True), wall


def milk_table(horizon: int = 12, folds: int = 1) -> pd.DataFrame:
    """Score every baseline on the milk series with the last ``horizon`` months held out.

    Args:
        horizon: months held out per origin.
        folds: rolling origins, ``horizon`` apart.

    Returns:
        One row per model (means over folds) with RMSE, MAE, MAPE, sMAPE, MASE and OWA.
    """
    table = read_series_csv(MILK)
    result = run_backtest(
        table.frame, baseline_forecasters(table.season_length), horizon, table.season_length, folds=folds
    )
    return summarize(result.scores)


def _fmt(value: float, digits: int = 3) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def run_flow(preset: Path, extra: list[str] = (), sets: list[str] = ()) -> tuple[dict, float]:
    """Run ``seqflow run forecast --config PRESET --json`` in a fresh process, as a user would.

    Returns:
        The flow's summary (``--json``) and the command's wall time in seconds.

    Raises:
        RuntimeError: the command failed (its stderr's tail is in the message).
    """
    return run_forecast_command(["--config", str(preset), *extra], sets)


def run_forecast_command(args: list[str], sets: list[str] = ()) -> tuple[dict, float]:
    """Run ``seqflow run forecast ARGS --json --set train.progress=false --set train.resume=false [--set ...]``.

    Returns:
        The flow's summary (``--json``) and the command's wall time in seconds.

    Raises:
        RuntimeError: the command failed (its stderr's tail is in the message).
    """
    # train.resume off: a wall time of networks reused from an earlier bench would measure nothing.
    cmd = [sys.executable, "-m", "flows.cli", "run", "forecast", *args, "--json", "--set", "train.progress=false",
           "--set", "train.resume=false"]
    for item in sets:
        cmd += ["--set", item]
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout), wall


def run_forecast_bench(
    console: Console,
    workers: int = 2,
    datasets: tuple[str, ...] = ("Hourly", "Weekly"),
    models: tuple[str, ...] = M4_MODELS,
    m4: bool = True,
    flow: bool = False,
    m4_flow: bool = False,
) -> dict:
    """Run the M4 and milk benchmarks and print them as Rich tables.

    Args:
        console: where the tables go.
        workers: processes for the M4 backtests (this machine has 2 cores).
        datasets: the M4 frequencies to run.
        models: the baselines to run on M4 (Holt-Winters dominates the time: ~1.3 CPU-seconds per
            hourly series and variant, against milliseconds for Naive2).
        m4: run the M4 part (skipped when ``../shared/data/m4`` is absent).
        flow: run the forecasting flow on milk (every cell, and the course recipe).
        m4_flow: run the forecasting flow's M4 preset of each of ``datasets`` (minutes each; skipped
            when ``../shared/data/m4`` is absent).

    Returns:
        The figures: ``{"m4": [...], "m4_flow": [...], "milk": [...], "milk_backtest": [...],
        "milk_flow": [...], "milk_flow_runs": {...}}``.
    """
    figures: dict = {"m4": [], "m4_flow": [], "milk": [], "milk_backtest": [], "milk_flow": [], "milk_flow_runs": {}}
    if (m4 or m4_flow) and not (SHARED_DATA / "m4").is_dir():
        console.print(f"M4 part skipped: {SHARED_DATA / 'm4'} is not there (it sits beside a development checkout)")
        m4 = m4_flow = False
    if m4:
        _m4_tables(console, workers, datasets, models, figures)
    if m4_flow:
        _m4_flow_table(console, datasets, figures)
    _milk_baseline_tables(console, figures)
    if flow:
        _milk_flow_table(console, figures)
    return figures


def _m4_tables(console: Console, workers: int, datasets: tuple[str, ...], models: tuple[str, ...], figures: dict) -> None:
    table = Table(title=f"M4 baselines at the official holdout ({workers} worker processes)")
    for col in ("set", "model", "series", "sMAPE", "MASE", "OWA", "official sMAPE", "official MASE", "Δ sMAPE", "Δ MASE", "wall s"):
        table.add_column(col, justify="left" if col in ("set", "model") else "right")
    for name in datasets:
        began = time.perf_counter()
        scores, wall = m4_scores(name, workers, models, progress=lambda line: console.print(line, style="dim"))
        total = time.perf_counter() - began
        summary = summarize(scores)
        for _, row in summary.iterrows():
            ref = OFFICIAL.get((name, row["model"]))
            d_smape = row["smape"] - ref[0] if ref else float("nan")
            d_mase = row["mase"] - ref[1] if ref else float("nan")
            table.add_row(
                name, row["model"], str(int(row["n_series"])), _fmt(row["smape"]), _fmt(row["mase"]),
                _fmt(row["owa"]), _fmt(ref[0]) if ref else "", _fmt(ref[1]) if ref else "",
                _fmt(d_smape), _fmt(d_mase), _fmt(wall[row["model"]], 1),
            )
            figures["m4"].append(
                {"set": name, "model": row["model"], "n_series": int(row["n_series"]), "smape": row["smape"],
                 "mase": row["mase"], "owa": row["owa"], "official": ref, "wall_s": wall[row["model"]]}
            )
        table.add_row(name, "[italic]all models, with file reading[/]", "", "", "", "", "", "", "", "", _fmt(total, 1))
        table.add_section()
    console.print(table)


def m4_flow_rows(name: str, summary: dict, wall: float) -> list[dict]:
    """Every forecaster of one flow run on an M4 set: the M4 metrics, and the interval scores of models.

    Args:
        name: the M4 set (``Hourly``, ``Weekly``).
        summary: the flow's ``--json`` summary.
        wall: the command's wall time in seconds (put on the model rows: the baselines ran inside it).

    Returns:
        Rows in the flow's ranking order (best MASE first), each with the published OWA where there is one.
    """
    metrics = {m["cell"]: m["metrics"] for m in summary["models"] if m.get("failure") is None}
    rows = []
    for r in summary["ranking"]:
        m = metrics.get(r["forecaster"], {}) if r["kind"] == "model" else {}
        rows.append({"set": name, "forecaster": r["forecaster"], "kind": r["kind"], "smape": r["smape"],
                     "mase": r["mase"], "owa": r["owa"], "coverage": m.get("coverage", float("nan")),
                     "msis": m.get("msis", float("nan")), "official_owa": OFFICIAL_OWA.get((name, r["forecaster"])),
                     "wall_s": wall if r["kind"] == "model" else float("nan")})
    return rows


def _m4_flow_table(console: Console, datasets: tuple[str, ...], figures: dict) -> None:
    table = Table(title="M4 through the flow at the official holdout: the preset's global recurrent model beside "
                        "the baselines scored in the same run; means over series")
    for col in ("set", "forecaster", "kind", "sMAPE", "MASE", "OWA", "official OWA", "coverage", "MSIS", "wall s"):
        table.add_column(col, justify="left" if col in ("set", "forecaster", "kind") else "right")
    figures["m4_flow_runs"] = {}
    for name in datasets:
        preset = M4_FLOW_PRESETS[name]
        console.print(f"the flow on M4 {name}: {preset.name} ...", style="dim")
        summary, wall = run_flow(preset, sets=[f"source.path={SHARED_DATA / 'm4' / f'{name}-train.csv'}",
                                               f"source.test_path={SHARED_DATA / 'm4' / f'{name}-test.csv'}"])
        rows = m4_flow_rows(name, summary, wall)
        figures["m4_flow"].extend(rows)
        figures["m4_flow_runs"][name] = {"preset": preset.name, "wall_s": wall,
                                         "parent_run_id": summary["parent_run_id"]}
        for row in rows:
            official = row["official_owa"]
            table.add_row(name, row["forecaster"], row["kind"], _fmt(row["smape"]), _fmt(row["mase"]), _fmt(row["owa"]),
                          _fmt(official) if official is not None else "", _fmt(row["coverage"], 2),
                          _fmt(row["msis"], 2), _fmt(row["wall_s"], 1))
        table.add_row(name, "ES-RNN (published)", "", "", "", "", _fmt(OFFICIAL_OWA[(name, "ES-RNN")]), "", "", "")
        table.add_section()
    console.print(table)
    console.print("wall s: the whole flow command (Prefect server, TensorFlow import, ingest, training, the "
                  "baselines, MLflow); coverage and MSIS: the model's split-conformal interval at "
                  "evaluate.interval_level", style="dim")


def _milk_baseline_tables(console: Console, figures: dict) -> None:
    milk = Table(title="Monthly milk, last 12 months held out (fit on 156 months)")
    for col in ("model", "RMSE", "MAE", "MAPE %", "sMAPE", "MASE", "OWA", "colleague RMSE", "colleague MASE"):
        milk.add_column(col, justify="left" if col == "model" else "right")
    began = time.perf_counter()
    one = milk_table()
    milk_s = time.perf_counter() - began
    for _, row in one.sort_values("mase").iterrows():
        ref = MILK_REFERENCE.get(row["model"])
        milk.add_row(
            row["model"], _fmt(row["rmse"], 2), _fmt(row["mae"], 2), _fmt(row["mape"], 2), _fmt(row["smape"], 3),
            _fmt(row["mase"], 3), _fmt(row["owa"], 3), _fmt(ref[0], 1) if ref else "", _fmt(ref[1], 3) if ref else "",
        )
        figures["milk"].append({k: row[k] for k in ("model", "rmse", "mae", "mape", "smape", "mase", "owa")})
    console.print(milk)

    folds = Table(title="Monthly milk, 3 rolling origins 12 months apart (means over origins)")
    for col in ("model", "RMSE", "sMAPE", "MASE", "OWA"):
        folds.add_column(col, justify="left" if col == "model" else "right")
    for _, row in milk_table(folds=3).sort_values("mase").iterrows():
        folds.add_row(row["model"], _fmt(row["rmse"], 2), _fmt(row["smape"]), _fmt(row["mase"]), _fmt(row["owa"]))
        figures["milk_backtest"].append({k: row[k] for k in ("model", "rmse", "smape", "mase", "owa")})
    console.print(folds)
    console.print(f"milk single split: {milk_s:.2f} s wall")


def seed_rows(runs: dict[str, list[dict]], walls: dict[str, list[float]]) -> list[dict]:
    """One row per recurrent configuration (MASE mean, std and range over its seeds) and per baseline.

    Args:
        runs: label to the flow summaries of its seeds (each run's one model is the configuration).
        walls: label to each run's wall time in seconds.

    Returns:
        Rows sorted by mean MASE; baselines from the first label's first run (the same months).
    """
    rows = []
    for label, summaries in runs.items():
        models = [next(r for r in s["ranking"] if r["kind"] == "model") for s in summaries]
        mase = np.array([m["mase"] for m in models])
        rows.append({"forecaster": label, "kind": "model", "seeds": len(mase), "mase": float(mase.mean()),
                     "mase_std": float(mase.std()), "mase_min": float(mase.min()), "mase_max": float(mase.max()),
                     "mase_per_seed": mase.tolist(), "rmse": float(np.mean([m["test_rmse"] for m in models])),
                     "wall_s": float(np.mean(walls[label]))})
    first = next(iter(runs.values()))[0]
    for r in first["ranking"]:
        if r["kind"] == "baseline":
            rows.append({"forecaster": r["forecaster"], "kind": "baseline", "seeds": 0, "mase": r["mase"],
                         "mase_std": 0.0, "mase_min": r["mase"], "mase_max": r["mase"], "mase_per_seed": [r["mase"]],
                         "rmse": r["test_rmse"], "wall_s": float("nan")})
    return sorted(rows, key=lambda row: row["mase"])


def backtest_rows(summary: dict) -> list[dict]:
    """Per-fold MASE of every forecaster of one flow run with several origins, and the mean over folds."""
    by_name: dict[str, dict[int, float]] = {}
    kinds = {r["forecaster"]: r["kind"] for r in summary["ranking"]}
    for f in summary["backtest"]:
        by_name.setdefault(f["forecaster"], {})[int(f["fold"])] = float(f["mase"])
    rows = [{"forecaster": name, "kind": kinds.get(name, ""), "folds": [folds[k] for k in sorted(folds)],
             "mean": float(np.mean(list(folds.values())))} for name, folds in by_name.items()]
    return sorted(rows, key=lambda row: row["mean"])


def _milk_flow_table(console: Console, figures: dict) -> None:
    runs: dict[str, list[dict]] = {}
    walls: dict[str, list[float]] = {}
    for label, preset, sets, seeds in MILK_RECURRENT:
        for seed in seeds:
            console.print(f"the flow on milk: {label}, seed {seed} ...", style="dim")
            summary, wall = run_flow(preset, sets=[*sets, f"seed={seed}"])
            runs.setdefault(label, []).append(summary)
            walls.setdefault(label, []).append(wall)
            figures["milk_flow_runs"][f"{label} · seed {seed}"] = {
                "wall_s": wall, "parent_run_id": summary["parent_run_id"], "forecasts_path": summary["forecasts_path"]}
    table = Table(title="Monthly milk through the flow, last 12 months held out (fit on the 156 before); "
                        "recurrent rows: mean over seeds; best MASE first")
    for col in ("forecaster", "kind", "seeds", "MASE", "± std", "min – max", "RMSE", "wall s / run", "colleague MASE"):
        table.add_column(col, justify="left" if col in ("forecaster", "kind") else "right")
    for row in seed_rows(runs, walls):
        ref = MILK_REFERENCE.get(row["forecaster"])
        table.add_row(row["forecaster"], row["kind"], str(row["seeds"] or ""), _fmt(row["mase"]),
                      _fmt(row["mase_std"]) if row["seeds"] > 1 else "",
                      f"{row['mase_min']:.3f} – {row['mase_max']:.3f}" if row["seeds"] > 1 else "",
                      _fmt(row["rmse"], 2), _fmt(row["wall_s"], 1), _fmt(ref[1], 3) if ref else "")
        figures["milk_flow"].append(row)
    console.print(table)
    console.print("wall s / run: the whole command (Prefect server, TensorFlow import, training every network, "
                  "MLflow), mean over its seeds", style="dim")

    figures["backtests"] = {}
    for name, preset in BACKTESTS:
        console.print(f"the flow on {name}: {BACKTEST_FOLDS}-origin backtest of {preset.name} ...", style="dim")
        summary, wall = run_flow(preset, sets=[f"evaluate.folds={BACKTEST_FOLDS}", f"seed={SEEDS[0]}"])
        rows = backtest_rows(summary)
        figures["backtests"][name] = {"rows": rows, "wall_s": wall, "parent_run_id": summary["parent_run_id"]}
        table = Table(title=f"{name}: {BACKTEST_FOLDS} rolling origins 12 months apart, every model refit per origin "
                            f"({preset.name}, seed {SEEDS[0]}); MASE, best mean first")
        table.add_column("forecaster", justify="left")
        table.add_column("kind", justify="left")
        for k in range(BACKTEST_FOLDS):
            table.add_column(f"fold {k}", justify="right")
        table.add_column("mean", justify="right")
        for row in rows:
            table.add_row(row["forecaster"], row["kind"], *(_fmt(v) for v in row["folds"]), _fmt(row["mean"]))
        console.print(table)
        console.print(f"{name} backtest: {wall:.1f} s wall (fold 0 is the latest origin)", style="dim")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (at most 2 here)")
    parser.add_argument("--datasets", nargs="+", default=["Hourly", "Weekly"], choices=["Hourly", "Weekly"])
    parser.add_argument("--models", nargs="+", default=list(M4_MODELS), choices=list(M4_MODELS))
    parser.add_argument("--no-m4", action="store_true", help="skip the M4 part")
    parser.add_argument("--flow", action="store_true", help="also run the forecasting flow on milk")
    parser.add_argument("--m4-flow", action="store_true", help="also run the flow's M4 presets (minutes per set)")
    args = parser.parse_args(argv)
    run_forecast_bench(Console(width=160), workers=args.workers, datasets=tuple(args.datasets),
                       models=tuple(args.models), m4=not args.no_m4, flow=args.flow, m4_flow=args.m4_flow)


if __name__ == "__main__":
    main()
