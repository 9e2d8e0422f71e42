"""``seqflow bench``: figures measured side by side in one run, printed as a table.

1. ``seqflow --help`` wall time (median of N) beside ``python -c pass`` and ``import tensorflow``.
2. The same training run bare, in a fresh process, before and after the flows (:mod:`flows.plain_keras`:
   the same windows, models and callbacks; no Prefect, MLflow, Parquet or evaluation), two ways:
   **bare Keras fit**, ``model.fit(x, y, shuffle=True)`` from NumPy arrays as Keras' guides write it,
   and **seqflow's training alone** (:func:`train_cell`, whose in-memory epoch batches give the
   same bits faster). When the preset sets ``train.threads``, the bare Keras fit is also run once
   with that setting, so the thread count's share of the difference is shown on its own.
3. The whole flow in a fresh process: **cold** (fresh stores: Prefect's database and MLflow's
   schema are created) and **warm** (a second run on the same stores), each with its ratio to
   both bare runs.
4. The temporary Prefect server's start time on the warm store (what a run pays without the
   standing server the cold run leaves for the warm one), and training samples/s per cell inside
   the flow beside the bare runs.

The machine's load average is printed before and after, so a reader can judge the noise.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

from flows import ephemeral
from tasks import paths
from tasks.config import load_config
from tasks.forecasting.config import ForecastConfig

# The demo preset as a user runs it; only the progress bars are off. Early stopping is
# deterministic, so the flow and the bare run train the same epochs.
BENCH_OVERRIDES = ["train.progress=false"]

_SERVER_START = (
    "import time; from prefect.server.api.server import SubprocessASGIServer as S\n"
    "began = time.perf_counter(); s = S(); s.start(); print(time.perf_counter() - began); s.stop()\n"
)


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return time.perf_counter() - began, proc


def _checked(what: str, proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed: {proc.stderr[-3000:]}")
    return proc


def _median_time(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        seconds, proc = _timed(cmd)
        _checked(" ".join(cmd), proc)
        times.append(seconds)
    return statistics.median(times)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min) / {five:.2f} (5 min) on {os.cpu_count()} cores"


def run_bench(overrides: list[str], repeats: int, console: Console) -> dict:
    """Run every measurement and print the table; returns the figures."""
    cfg = load_config(ForecastConfig, paths.configs_dir() / "demo.toml", [*BENCH_OVERRIDES, *overrides])
    work = paths.bench_dir()
    prefect_home = work / "artifacts" / "prefect"
    ephemeral.stop_standing_server(prefect_home)  # an earlier bench's, before its database is deleted
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    seqflow = [sys.executable, "-m", "flows.cli"]
    load_before = _load()
    console.print(f"[bold]seqflow bench[/]: {len(cfg.model.cells)} cells, demo preset; work in {work}; "
                  f"load {load_before}")

    help_s = _median_time([*seqflow, "--help"], repeats)
    python_s = _median_time([sys.executable, "-c", "pass"], repeats)
    tf_s = _median_time([sys.executable, "-c", "import tensorflow"], max(1, repeats // 2))

    config_path = work / "config.json"
    config_path.write_text(cfg.model_dump_json())
    env = {**os.environ, "SEQFLOW_ARTIFACTS": str(work / "artifacts")}
    for var in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "MLFLOW_TRACKING_URI", "PREFECT_API_URL"):
        env.pop(var, None)  # private stores, cold at first: nothing cached from earlier runs
    keras_cmd = [sys.executable, "-m", "flows.plain_keras", str(config_path), "keras"]
    bare_cmd = [sys.executable, "-m", "flows.plain_keras", str(config_path), "seqflow"]
    threads_cmd = [sys.executable, "-m", "flows.plain_keras", str(config_path), "keras-threads"]
    flow_cmd = [*seqflow, "run", "forecast", "--config", str(paths.configs_dir() / "demo.toml"), "--json"]
    flow_cmd += [item for o in (*BENCH_OVERRIDES, *overrides) for item in ("--set", o)]

    console.print("bare Keras fit, then seqflow's training alone (flows.plain_keras) ...")
    keras1_s, keras1 = _timed(keras_cmd, env)
    keras_out = json.loads(_checked("bare Keras fit", keras1).stdout.strip().splitlines()[-1])
    bare1_s, bare1 = _timed(bare_cmd, env)
    bare_out = json.loads(_checked("bare training", bare1).stdout.strip().splitlines()[-1])
    console.print("the flow on cold stores ...")
    cold_s, cold = _timed(flow_cmd, env)
    _checked("cold flow", cold)
    console.print("the flow again, warm stores ...")
    warm_s, warm = _timed(flow_cmd, env)
    summary = json.loads(_checked("warm flow", warm).stdout)
    console.print("both bare runs again ...")
    bare2_s, _ = _timed(bare_cmd, env)
    keras2_s, _ = _timed(keras_cmd, env)
    bare_s, keras_s = (bare1_s + bare2_s) / 2, (keras1_s + keras2_s) / 2
    threads_s = threads_out = None
    if cfg.train.threads:
        console.print(f"bare Keras fit with train.threads = {cfg.train.threads} ...")
        threads_s, threads = _timed(threads_cmd, env)
        threads_out = json.loads(_checked("bare Keras fit with threads", threads).stdout.strip().splitlines()[-1])
    standing = ephemeral.standing_server(prefect_home)  # started by the cold run, reused by the warm one
    ephemeral.stop_standing_server(prefect_home)
    server_env = {**env, "PREFECT_HOME": str(prefect_home)}
    server_s = float(_checked("server start", subprocess.run(
        [sys.executable, "-c", _SERVER_START], capture_output=True, text=True, env=server_env)).stdout.split()[-1])

    table = Table(title="seqflow bench (wall-clock, this machine, one invocation)")
    for col in ("measure", "seqflow", "reference", "ratio"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row("`seqflow --help` (median)", f"{help_s:.2f} s", f"python -c pass {python_s:.2f} s",
                  f"{help_s / python_s:.1f}x")
    table.add_row("", "", f"import tensorflow {tf_s:.2f} s", f"{help_s / tf_s:.2f}x")
    for what, flow_s in (("cold stores (first run)", cold_s), ("warm stores (second run)", warm_s)):
        table.add_row(f"flow, {what}", f"{flow_s:.1f} s", f"bare Keras fit {keras_s:.1f} s", f"{flow_s / keras_s:.2f}x")
        if threads_s:
            table.add_row("", "", f"Keras fit, {cfg.train.threads} thread(s) {threads_s:.1f} s",
                          f"{flow_s / threads_s:.2f}x")
        table.add_row("", "", f"seqflow training alone {bare_s:.1f} s", f"{flow_s / bare_s:.2f}x")
    table.add_row("bare Keras fit, before / after", f"{keras1_s:.1f} s / {keras2_s:.1f} s", "", "")
    table.add_row("seqflow training alone, before / after", f"{bare1_s:.1f} s / {bare2_s:.1f} s", "", "")
    table.add_row("Prefect temporary server start (warm)", f"{server_s:.1f} s",
                  "standing server reused by the warm run" if standing else "no standing server (idle 0)", "")
    figures = {"help_seconds": help_s, "python_seconds": python_s, "import_tensorflow_seconds": tf_s,
               "flow_cold_seconds": cold_s, "flow_warm_seconds": warm_s, "bare_seconds": [bare1_s, bare2_s],
               "keras_fit_seconds": [keras1_s, keras2_s], "keras_fit_threads_seconds": threads_s,
               "train_threads": cfg.train.threads,
               "server_start_seconds": server_s, "standing_server_reused": standing is not None, "cells": {}}
    for cell in cfg.model.cells:
        ours = next(m for m in summary["models"] if m["cell"] == cell)["metrics"]["train_samples_per_second"]
        theirs = bare_out["cells"][cell]["train_samples_per_second"]
        keras = keras_out["cells"][cell]["train_samples_per_second"]
        table.add_row(f"train samples/s: {cell}", f"{ours:,.0f}", f"Keras fit {keras:,.0f}", f"{ours / keras:.2f}x")
        if threads_out:
            threaded = threads_out["cells"][cell]["train_samples_per_second"]
            table.add_row("", "", f"Keras fit, {cfg.train.threads} thread(s) {threaded:,.0f}", f"{ours / threaded:.2f}x")
        table.add_row("", "", f"seqflow alone {theirs:,.0f}", f"{ours / theirs:.2f}x")
        figures["cells"][cell] = {"flow_samples_per_second": ours, "plain_samples_per_second": theirs,
                                  "keras_fit_samples_per_second": keras}
        if threads_out:
            figures["cells"][cell]["keras_fit_threads_samples_per_second"] = threaded
    console.print(table)
    console.print(f"load before {load_before}; after {_load()}. ratio = seqflow / reference; the bare figure "
                  "is the mean of the two bare runs of each kind. The flow also evaluates, generates, plots and logs "
                  "models. Keras fit and seqflow's training give the same weights to the last bit. "
                  f"train.threads = {cfg.train.threads or 'TensorFlow default'} in the flow and seqflow alone; "
                  "the bare Keras fit uses TensorFlow's default threads unless its row says otherwise.")
    return figures
