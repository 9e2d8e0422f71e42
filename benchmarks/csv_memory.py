"""Peak memory of the forecast flow's data stages on a large long-format CSV.

``seqflow bench csv`` writes a synthetic long-format CSV (``series_id,date,value``) of ``--rows`` rows,
``--series`` daily series of equal length, and runs each stage the forecast flow runs before training
in its own child process, so each peak is that stage's alone:

- ``preflight``: the CLI's pre-flight check (``flows.cli.forecast.preflight``: read, validate, size rules);
- ``ingest``: the flow's ``ingest-series`` step (read, validate, write the series Parquet);
- ``windowing``: the flow's networks planned from the stored series (``recipe_configs``) and each one's
  ``window-series`` step (windows per series and origin, written as Parquet);
- ``training``: the first planned network's windows, then its ``train-model`` step (every fold's network,
  as the flow trains it) with a tiny network for ``TRAIN_EPOCHS`` epochs, into a scratch MLflow store;
  ``--set`` settings (e.g. ``train.max_window_mb``) apply to it.

Peak resident memory is the child's own ``VmHWM`` (``/proc/self/status``) as the stage ends, CPU
seconds its own ``getrusage``; "after imports" is its ``VmHWM`` before the stage starts (numpy,
pandas, Prefect's modules), which every stage pays. Not ``ru_maxrss``: Linux carries it over from the
parent through fork and exec, so a child would start at the bench process's own peak.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STAGES = ("preflight", "ingest", "windowing", "training")
TRAIN_EPOCHS = 1
TRAIN_UNITS = 4  # a tiny network: the stage measures the data's memory, not the model's


def write_long_csv(path: Path, rows: int, series: int = 10_000, seed: int = 0) -> int:
    """Write ``series`` daily random-walk series of ``rows // series`` steps each as a long CSV; return its bytes."""
    steps = rows // series
    if steps < 2:
        raise ValueError(f"write_long_csv: rows={rows} gives series={series} fewer than 2 steps each")
    rng = np.random.default_rng(seed)
    dates = np.datetime_as_string(np.arange(np.datetime64("2000-01-01"), np.datetime64("2000-01-01") + steps),
                                  unit="D").astype(object)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("series_id,date,value\n")
        block = max(1, 200_000 // steps)
        for first in range(0, series, block):
            count = min(block, series - first)
            values = 100.0 + np.cumsum(rng.normal(0.0, 1.0, (count, steps)), axis=1) + rng.uniform(0, 50, (count, 1))
            lines = []
            for k in range(count):
                sid = f"s{first + k:05d}"
                lines.extend(f"{sid},{d},{v:.3f}\n" for d, v in zip(dates, values[k]))
            handle.write("".join(lines))
    return path.stat().st_size


def _config(path: str, horizon: int, overrides: list[str] | tuple[str, ...] = ()):
    from tasks.config import merge_overrides
    from tasks.forecasting.config import ForecastConfig

    data = {"source": {"kind": "csv", "path": path, "id_column": "series_id"}, "window": {"horizon": horizon}}
    return ForecastConfig.model_validate(merge_overrides(data, list(overrides)))


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``, reset by exec, unlike ``ru_maxrss``), in MB."""
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM")).split()[1]) / 1024


def _train_first_network(cfg, series, scratch: str) -> dict:
    """Window the first planned network and run its ``train-model`` step (tiny, ``TRAIN_EPOCHS`` epochs)."""
    from tasks.forecasting import calendar, steps
    from tasks.forecasting import config as forecast_config
    from tasks.tracking import runs, store
    from tasks.tracking.runs import RunContext

    season = cfg.evaluate.season_length or series.season_length
    cfg = steps.resolve_inner_folds(cfg, series)
    name, (cell, c) = next(iter(steps.recipe_configs(cfg, series, season).items()))
    c = c.model_copy(update={
        "model": c.model.model_copy(update={"units": TRAIN_UNITS}),
        "train": c.train.model_copy(update={"epochs": TRAIN_EPOCHS, "resume": False, "progress": False}),
    })
    ref = steps.window_panel.fn(series, c.window, c.split, c.total_folds, c.fold_step, steps.transform_spec(c, season),
                                forecast_config.holdout_target_steps(c),
                                calendar.resolve(c.preprocess.calendar, series.frequency))
    experiment = store.ensure_experiment("bench-csv-memory")
    parent = runs.start_run(experiment, "bench csv training", {})
    before = peak_rss_mb()  # windowing and MLflow's store included
    trained = steps.train_panel_model.fn(ref, c, cell, RunContext(experiment, parent, "none", ()), name)
    runs.end_run(parent)
    if trained.failure:
        raise RuntimeError(trained.failure)
    params = store.client().get_run(trained.run_id).data.params
    return {"network": name, "windows": sum(n for _, n in ref.counts), "networks": 1,
            "streamed": params.get("train.streamed", "False"), "final_loss": trained.history["loss"][-1],
            "rss_before_training_mb": before}


def _child(stage: str, path: str, horizon: int, scratch: str, overrides: list[str]) -> None:
    """Run one stage on ``path`` and print its figures as JSON (peak RSS comes from the parent's wait4)."""
    import logging
    import resource

    from tasks.forecasting import calendar, steps
    from tasks.forecasting import config as forecast_config

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    cfg = _config(path, horizon, overrides)
    ref_file = Path(scratch) / "series-ref.pickle"
    imported = resource.getrusage(resource.RUSAGE_SELF)
    imported_mb = peak_rss_mb()
    began = time.perf_counter()
    out: dict = {}
    if stage == "preflight":
        from flows.cli.forecast import preflight

        preflight(cfg)
    elif stage == "ingest":
        series = steps.ingest_series.fn(cfg.source)
        ref_file.write_bytes(pickle.dumps(series))
        out = {"points": series.n_points, "series": series.n_series}
    elif stage == "windowing":
        series = pickle.loads(ref_file.read_bytes())
        season = cfg.evaluate.season_length or series.season_length
        cfg = steps.resolve_inner_folds(cfg, series)
        plans = steps.recipe_configs(cfg, series, season)
        features = calendar.resolve(cfg.preprocess.calendar, series.frequency)
        windows = 0
        for _, c in plans.values():
            ref = steps.window_panel.fn(series, c.window, c.split, cfg.total_folds, cfg.fold_step,
                                        steps.transform_spec(c, season), forecast_config.holdout_target_steps(c),
                                        features)
            windows += sum(n for _, n in ref.counts)
        out = {"networks": len(plans), "windows": windows}
    elif stage == "training":
        out = _train_first_network(cfg, pickle.loads(ref_file.read_bytes()), scratch)
    else:
        raise ValueError(f"stage {stage!r}: one of {', '.join(STAGES)}")
    done = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({**out, "seconds": time.perf_counter() - began,
                      "stage_cpu_seconds": done.ru_utime + done.ru_stime - imported.ru_utime - imported.ru_stime,
                      "rss_after_imports_mb": imported_mb, "peak_rss_mb": peak_rss_mb()}))


def measure(stage: str, path: Path, horizon: int, scratch: Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Run one stage in a child; add its peak RSS (MB) and CPU seconds from ``os.wait4``."""
    env = {**os.environ, "SEQFLOW_ARTIFACTS": str(scratch / "artifacts"), "PYTHONPATH": str(Path.cwd())}
    began = time.perf_counter()
    out_file, err_file = scratch / f"{stage}.out", scratch / f"{stage}.err"
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        child = subprocess.Popen([sys.executable, "-m", "benchmarks.csv_memory", "--child", stage, str(path),
                                  str(horizon), str(scratch), *overrides], stdout=out, stderr=err, env=env)
        _, status, _ = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    text = out_file.read_text()
    figures = json.loads(text) if child.returncode == 0 and text.strip() else {
        "failed": child.returncode, "error": err_file.read_text(errors="replace").strip().splitlines()[-1:]}
    figures.update(wall_seconds=time.perf_counter() - began)
    return figures


def run_csv_bench(rows: int, series: int, horizon: int, console, stages: tuple[str, ...] = STAGES,
                  overrides: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """Write the CSV, measure each stage on it, print the table and return its rows.

    ``training`` needs ``ingest`` before it (the stored series); ``overrides`` are ``--set`` settings.
    """
    if "training" in stages and "ingest" not in stages:
        raise ValueError(f"stages {stages}: training needs ingest before it")
    from rich.table import Table

    from tasks import paths

    work = paths.bench_dir() / "csv-memory"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    path = work / f"long-{rows}.csv"
    n_bytes = write_long_csv(path, rows, series)
    load = os.getloadavg()
    console.print(f"{path.name}: {rows:,} rows, {series:,} series, {n_bytes / 1e6:,.0f} MB", highlight=False)
    results = []
    for stage in stages:
        console.print(f"{stage}: measuring …", highlight=False)
        results.append({"stage": stage, "rows": rows, "series": series, "megabytes": n_bytes / 1e6,
                        **measure(stage, path, horizon, work, overrides)})
    table = Table(title=f"{rows:,} rows, {series:,} daily series, horizon {horizon} (load average {load[0]:.1f} "
                        f"{load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs at the start)")
    for column in ("stage", "peak RSS MB", "after imports MB", "before training MB", "stage s (wall)", "stage CPU s",
                   "result"):
        table.add_column(column, justify="left" if column in ("stage", "result") else "right")
    for r in results:
        result = (f"failed: {r.get('error')}" if "failed" in r else
                  f"{r['network']}: {r['windows']:,} windows, streamed {r['streamed']}" if "network" in r else
                  f"{r['windows']:,} windows, {r['networks']} networks" if "windows" in r else
                  f"{r['points']:,} points" if "points" in r else "passed")
        table.add_row(r["stage"], f"{r.get('peak_rss_mb', float('nan')):,.0f}", f"{r.get('rss_after_imports_mb', float('nan')):,.0f}",
                      f"{r.get('rss_before_training_mb', float('nan')):,.0f}", f"{r.get('seconds', float('nan')):.1f}",
                      f"{r.get('stage_cpu_seconds', float('nan')):.1f}", result)
    console.print(table)
    shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6:])
    else:
        from rich.console import Console

        run_csv_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, 10_000, 7, Console())
