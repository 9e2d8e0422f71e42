"""``seqflow bench``: figures measured side by side in one run, printed as a table.

1. ``seqflow --help`` wall time (median of N) beside ``python -c pass`` and ``import tensorflow``.
2. The whole flow (a fresh process, cold caches) beside the same training run bare, with no
   pipeline around it, in a fresh process (:mod:`flows.plain_keras`).
3. Training samples/s per cell, inside the flow and in the bare run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tasks import paths
from tasks.config import load_config
from tasks.forecasting.config import ForecastConfig

# Fixed epochs (early stopping can't end either side sooner) so both sides do the same work.
BENCH_OVERRIDES = ["train.epochs=10", "train.patience=10", "train.lr_patience=0", "train.progress=false"]


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return time.perf_counter() - began, proc


def _median_time(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        seconds, proc = _timed(cmd)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
        times.append(seconds)
    return statistics.median(times)


def run_bench(overrides: list[str], repeats: int, console: Console) -> dict:
    """Run every measurement and print the table; returns the figures."""
    cfg = load_config(ForecastConfig, paths.configs_dir() / "demo.toml", [*BENCH_OVERRIDES, *overrides])
    work = paths.bench_dir()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    seqflow = [sys.executable, "-m", "flows.cli"]

    console.print(f"[bold]seqflow bench[/]: {len(cfg.model.cells)} cells x {cfg.train.epochs} epochs; work in {work}")
    help_s = _median_time([*seqflow, "--help"], repeats)
    python_s = _median_time([sys.executable, "-c", "pass"], repeats)
    tf_s = _median_time([sys.executable, "-c", "import tensorflow"], max(1, repeats // 2))

    config_path = work / "config.json"
    config_path.write_text(cfg.model_dump_json())
    env = {**os.environ, "SEQFLOW_ARTIFACTS": str(work / "artifacts")}
    for var in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "MLFLOW_TRACKING_URI"):
        env.pop(var, None)  # a cold, private store: nothing cached from earlier runs

    console.print("running the bare training (flows.plain_keras) ...")
    plain_s, plain = _timed([sys.executable, "-m", "flows.plain_keras", str(config_path)], env)
    if plain.returncode != 0:
        raise RuntimeError(f"bare training failed: {plain.stderr[-3000:]}")
    plain_out = json.loads(plain.stdout.strip().splitlines()[-1])

    console.print("running the seqflow flow (Prefect + MLflow + Parquet + evaluation) ...")
    flow_cmd = [*seqflow, "run", "forecast", "--config", str(paths.configs_dir() / "demo.toml"), "--json"]
    flow_cmd += [item for o in (*BENCH_OVERRIDES, *overrides) for item in ("--set", o)]
    flow_s, flow = _timed(flow_cmd, env)
    if flow.returncode != 0:
        raise RuntimeError(f"flow failed: {flow.stderr[-3000:]}")
    summary = json.loads(flow.stdout)

    table = Table(title="seqflow bench (wall-clock, this machine, one run)")
    for col in ("measure", "seqflow", "reference", "ratio"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row("`seqflow --help` (median)", f"{help_s:.2f} s", f"python -c pass {python_s:.2f} s",
                  f"{help_s / python_s:.1f}x")
    table.add_row("", "", f"import tensorflow {tf_s:.2f} s", f"{help_s / tf_s:.2f}x")
    table.add_row("end-to-end, all cells", f"{flow_s:.1f} s", f"bare training {plain_s:.1f} s", f"{flow_s / plain_s:.2f}x")
    figures = {"help_seconds": help_s, "python_seconds": python_s, "import_tensorflow_seconds": tf_s,
               "flow_seconds": flow_s, "plain_keras_seconds": plain_s, "cells": {}}
    for cell in cfg.model.cells:
        ours = next(m for m in summary["models"] if m["cell"] == cell)["metrics"]["train_samples_per_second"]
        theirs = plain_out["cells"][cell]["train_samples_per_second"]
        table.add_row(f"train samples/s: {cell}", f"{ours:,.0f}", f"{theirs:,.0f}", f"{ours / theirs:.2f}x")
        figures["cells"][cell] = {"flow_samples_per_second": ours, "plain_samples_per_second": theirs}
    console.print(table)
    console.print("ratio = seqflow / reference. The flow also evaluates, generates, plots and logs models; "
                  "the bare run only fits, with the same functions.")
    return figures

