"""One forecast run's ensemble, serially and with its members on a local Dask cluster: wall times and OWA.

The M4 Hourly preset (flows/configs/m4_hourly.toml: one global GRU, three ensemble members) runs as
``seqflow run forecast`` twice in fresh processes, each with an artifacts folder and store of its own
(so the second cannot reuse the first's networks): ``--runner serial``, then ``--runner dask --workers
N``. The table gives both commands' wall times (imports, ingest, the cluster's start, training, the
backtest's scoring and the registration included), the speed-up, and each forecaster's OWA on both
runners side by side: they must be equal.

Usage: ``python -m benchmarks.ensemble [--workers 2] [--epochs N]`` (``seqflow bench ensemble``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tasks import paths

PRESET = "m4_hourly.toml"


def overrides_for(epochs: int | None) -> list[str]:
    """The ``--set`` overrides of the preset both runs share."""
    return ["train.progress=false"] + ([f"train.epochs={epochs}"] if epochs else [])


def command(overrides: list[str], runner: list[str]) -> list[str]:
    """The ``seqflow run forecast`` command line of the preset with ``overrides`` on ``runner``."""
    sets = [arg for o in overrides for arg in ("--set", o)]
    return [sys.executable, "-m", "flows.cli", "run", "forecast", "--config", str(paths.configs_dir() / PRESET),
            *sets, "--json", *runner]


def _run(folder: Path, overrides: list[str], runner: list[str]) -> tuple[dict, float]:
    """``seqflow run forecast`` of the preset in a fresh process on ``folder``; its summary and seconds."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PREFECT_HOME",
                                                             "PREFECT_LOCAL_STORAGE_PATH")}
    env["SEQFLOW_ARTIFACTS"] = str(folder)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.PROJECT_ROOT), env.get("PYTHONPATH")]))
    line = command(overrides, runner)
    began = time.perf_counter()
    out = subprocess.run(line, env=env, capture_output=True, text=True, timeout=7200, cwd=paths.PROJECT_ROOT)
    seconds = time.perf_counter() - began
    if out.returncode != 0:
        raise RuntimeError(f"`{' '.join(line[3:])}` failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout), seconds


def run_bench(workers: int, epochs: int | None, console) -> dict:
    """Run the preset serially and on ``workers`` Dask processes, print the table, return the figures."""
    from rich.table import Table

    work = paths.bench_dir() / "ensemble"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    overrides = overrides_for(epochs)
    serial, serial_s = _run(work / "serial", overrides, ["--runner", "serial"])
    dask, dask_s = _run(work / "dask", overrides, ["--runner", "dask", "--workers", str(workers)])
    on_dask = {r["forecaster"]: r for r in dask["ranking"]}
    rows = [{"forecaster": r["forecaster"], "kind": r["kind"], "serial": r["owa"],
             "dask": on_dask[r["forecaster"]]["owa"], "equal": _same(r["owa"], on_dask[r["forecaster"]]["owa"])}
            for r in serial["ranking"]]
    figures = {"preset": PRESET, "workers": workers, "epochs": epochs, "serial_s": serial_s, "dask_s": dask_s,
               "speedup": serial_s / dask_s, "equal": all(r["equal"] for r in rows), "rows": rows}
    table = Table(title=f"bench ensemble: {PRESET}, serial vs a {workers}-worker local Dask cluster")
    for col in ("forecaster", "kind", "OWA serial", "OWA dask", "equal"):
        table.add_column(col, justify="left" if col in ("forecaster", "kind") else "right")
    for r in rows:
        table.add_row(r["forecaster"], r["kind"], _owa(r["serial"]), _owa(r["dask"]), "yes" if r["equal"] else "NO")
    console.print(table)
    console.print(f"wall time: serial {serial_s:.1f} s, dask {dask_s:.1f} s ({workers} workers): "
                  f"speed-up {figures['speedup']:.2f}x; every OWA equal: {'yes' if figures['equal'] else 'NO'}",
                  highlight=False)
    console.print("wall time: the whole `seqflow run forecast` command (imports, ingest, the cluster's start, "
                  "training, scoring, registration)", highlight=False, style="dim")
    (work / "ensemble.json").write_text(json.dumps(figures, indent=2))
    return figures


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _owa(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6f}"


if __name__ == "__main__":
    from rich.console import Console

    args = sys.argv[1:]
    option = {k: int(args[i + 1]) for i, k in enumerate(args) if k in ("--workers", "--epochs")}
    run_bench(option.get("--workers", 2), option.get("--epochs"), Console(width=140))
