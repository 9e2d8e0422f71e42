"""``seqflow bench``: figures measured side by side in one run, printed as a table.

1. ``seqflow --help`` wall time (median of N) beside ``python -c pass`` and ``import tensorflow``.
2. The same training run bare, in a fresh process (:mod:`benchmarks.plain_keras`: the same windows,
   models and callbacks; no Prefect, MLflow, Parquet or evaluation), two ways: **bare Keras fit**,
   ``model.fit(x, y, shuffle=True)`` from NumPy arrays as Keras' guides write it, and **seqflow's
   training alone** (:func:`train_cell`, whose in-memory epoch batches give the same bits faster).
   When the preset sets ``train.threads``, the bare Keras fit is also run with that setting, so the
   thread count's share of the difference is shown on its own.
3. The whole flow in a fresh process: **cold** (new stores: Prefect's database and MLflow's are
   copied from the installation's templates, :mod:`tasks.templates`) and **warm** (twice more on
   the same stores), each with its ratio to the bare runs.
4. The temporary Prefect server's start time on the warm store (what a run pays without the
   standing server the cold run leaves for the warm ones), the time to make the database templates
   from scratch (what a first set-up pays once), and training samples/s per cell inside the flow
   beside the bare runs.

Every bare kind runs twice, before and after the flows in mirrored order, and the warm flow twice:
the best of each pair is compared, so one slow spell of this noisy machine does not decide a
ratio. The machine's load average is printed before and after.
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
from tasks import paths, templates
from tasks.config import load_config
from tasks.study.config import StudyConfig

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
    cfg = load_config(StudyConfig, paths.configs_dir() / "demo.toml", [*BENCH_OVERRIDES, *overrides])
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
    keras_cmd = [sys.executable, "-m", "benchmarks.plain_keras", str(config_path), "keras"]
    bare_cmd = [sys.executable, "-m", "benchmarks.plain_keras", str(config_path), "seqflow"]
    threads_cmd = [sys.executable, "-m", "benchmarks.plain_keras", str(config_path), "keras-threads"]
    flow_cmd = [*seqflow, "run", "study", "--config", str(paths.configs_dir() / "demo.toml"), "--json"]
    flow_cmd += [item for o in (*BENCH_OVERRIDES, *overrides) for item in ("--set", o)]

    def bare(what: str, cmd: list[str]) -> tuple[float, dict]:
        seconds, proc = _timed(cmd, env)
        return seconds, json.loads(_checked(what, proc).stdout.strip().splitlines()[-1])

    def flow(what: str) -> tuple[float, dict]:
        seconds, proc = _timed(flow_cmd, env)
        return seconds, json.loads(_checked(what, proc).stdout)

    # Each measurement twice, in mirrored order around the flows (ABC flows CBA), so a drift of the
    # machine's speed during the bench weighs on both sides; the best of each pair is compared.
    console.print("the bare runs (benchmarks.plain_keras): Keras fit, seqflow's training alone"
                  + (f", Keras fit with {cfg.train.threads} thread(s)" if cfg.train.threads else "") + " ...")
    keras, alone, threaded = [bare("bare Keras fit", keras_cmd)], [bare("bare training", bare_cmd)], []
    if cfg.train.threads:
        threaded.append(bare("bare Keras fit with threads", threads_cmd))
    console.print("the flow on cold stores (new stores, copied from the installation's templates) ...")
    cold = flow("cold flow")
    console.print("the flow twice more, warm stores ...")
    warm = [flow("warm flow"), flow("warm flow")]
    console.print("the bare runs again, in the opposite order ...")
    if cfg.train.threads:
        threaded.append(bare("bare Keras fit with threads", threads_cmd))
    alone.append(bare("bare training", bare_cmd))
    keras.append(bare("bare Keras fit", keras_cmd))
    cold_s, warm_s = cold[0], min(w[0] for w in warm)
    keras_s, bare_s = min(k[0] for k in keras), min(a[0] for a in alone)
    threads_s = min(t[0] for t in threaded) if threaded else None
    standing = ephemeral.standing_server(prefect_home)  # started by the cold run, reused by the warm ones
    ephemeral.stop_standing_server(prefect_home)
    server_env = {**env, "PREFECT_HOME": str(prefect_home)}
    server_s = float(_checked("server start", subprocess.run(
        [sys.executable, "-c", _SERVER_START], capture_output=True, text=True, env=server_env)).stdout.split()[-1])
    console.print("the database templates, made again in a scratch folder (what a first set-up pays) ...")
    template_s, made = _timed([sys.executable, "-m", "flows.templates"],
                              {**env, templates.ENV: str(work / "templates")})
    _checked("database templates", made)

    table = Table(title="seqflow bench (wall-clock, this machine, one invocation; best of two runs each)")
    for col in ("measure", "seqflow", "reference", "ratio"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row("`seqflow --help` (median)", f"{help_s:.2f} s", f"python -c pass {python_s:.2f} s",
                  f"{help_s / python_s:.1f}x")
    table.add_row("", "", f"import tensorflow {tf_s:.2f} s", f"{help_s / tf_s:.2f}x")
    for what, flow_s in (("cold stores (first run, one run)", cold_s), ("warm stores (best of two runs)", warm_s)):
        table.add_row(f"flow, {what}", f"{flow_s:.1f} s", f"bare Keras fit {keras_s:.1f} s", f"{flow_s / keras_s:.2f}x")
        if threads_s:
            table.add_row("", "", f"Keras fit, {cfg.train.threads} thread(s) {threads_s:.1f} s",
                          f"{flow_s / threads_s:.2f}x")
        table.add_row("", "", f"seqflow training alone {bare_s:.1f} s", f"{flow_s / bare_s:.2f}x")
    table.add_row("flow, warm: the two runs", " / ".join(f"{w[0]:.1f} s" for w in warm), "", "")
    table.add_row("bare Keras fit, before / after", " / ".join(f"{k[0]:.1f} s" for k in keras), "", "")
    if threaded:
        table.add_row(f"Keras fit, {cfg.train.threads} thread(s), before / after",
                      " / ".join(f"{t[0]:.1f} s" for t in threaded), "", "")
    table.add_row("seqflow training alone, before / after", " / ".join(f"{a[0]:.1f} s" for a in alone), "", "")
    table.add_row("Prefect temporary server start (warm)", f"{server_s:.1f} s",
                  "standing server reused by the warm runs" if standing else "no standing server (idle 0)", "")
    table.add_row("database templates, made from scratch", f"{template_s:.1f} s",
                  "once per installation (make's set-up)", "")
    figures = {"help_seconds": help_s, "python_seconds": python_s, "import_tensorflow_seconds": tf_s,
               "flow_cold_seconds": cold_s, "flow_warm_seconds": [w[0] for w in warm],
               "bare_seconds": [a[0] for a in alone], "keras_fit_seconds": [k[0] for k in keras],
               "keras_fit_threads_seconds": [t[0] for t in threaded], "train_threads": cfg.train.threads,
               "server_start_seconds": server_s, "standing_server_reused": standing is not None,
               "templates_seconds": template_s, "cells": {}}

    def best(runs: list[dict], cell: str) -> float:
        return max(r["cells"][cell]["train_samples_per_second"] for r in runs)

    def best_in_flow(cell: str) -> float:
        return max(next(m for m in summary["models"] if m["cell"] == cell)["metrics"]["train_samples_per_second"]
                   for summary in (cold[1], *(w[1] for w in warm)))

    for cell in cfg.model.cells:
        ours, keras_rate, theirs = best_in_flow(cell), best([k[1] for k in keras], cell), best([a[1] for a in alone], cell)
        table.add_row(f"train samples/s: {cell}", f"{ours:,.0f}", f"Keras fit {keras_rate:,.0f}", f"{ours / keras_rate:.2f}x")
        figures["cells"][cell] = {"flow_samples_per_second": ours, "plain_samples_per_second": theirs,
                                  "keras_fit_samples_per_second": keras_rate}
        if threaded:
            threaded_rate = best([t[1] for t in threaded], cell)
            table.add_row("", "", f"Keras fit, {cfg.train.threads} thread(s) {threaded_rate:,.0f}",
                          f"{ours / threaded_rate:.2f}x")
            figures["cells"][cell]["keras_fit_threads_samples_per_second"] = threaded_rate
        table.add_row("", "", f"seqflow alone {theirs:,.0f}", f"{ours / theirs:.2f}x")
    console.print(table)
    console.print(f"load before {load_before}; after {_load()}. ratio = seqflow / reference. Walls: the best "
                  "(shortest) of two runs of each kind, the cold flow's one run; samples/s: the best of each kind's "
                  "runs (the flow's: its three). The flow also evaluates, generates, plots and logs "
                  "models. Keras fit and seqflow's training give the same weights to the last bit. "
                  f"train.threads = {cfg.train.threads or 'TensorFlow default'} in the flow and seqflow alone; "
                  "the bare Keras fit uses TensorFlow's default threads unless its row says otherwise.")
    return figures
