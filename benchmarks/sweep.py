"""One sweep on the milk series, serially and on a local Dask cluster, in one invocation: wall times and scores.

The sweep is every point of cell (gru, lstm) × units (4, 8) × lookback (12, 24) over the milk preset
(flows/configs/milk.toml) made quick: one network per point (``model.ensemble = 1``; ``--ensemble 5`` trains the
preset's own five) and a few epochs.
``seqflow run sweep`` runs it twice in fresh processes, each on a store of its own (so the second
cannot reuse the first's points): ``--runner serial``, then ``--runner dask --workers N``. Both use
one local Prefect server, started before either is timed, as every run after a user's first finds it
standing (flows.ephemeral). The table gives both commands' wall times (imports, the Dask cluster's
start and every point included), the speed-up, and each point's score on both runners side by side:
they must be equal.

Usage: ``python -m benchmarks.sweep [--workers 2] [--epochs 20] [--ensemble 1]`` (``seqflow bench sweep``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from tasks import paths
from tasks.sweeps.preset import to_toml

GRID = {"model.cells": [["gru"], ["lstm"]], "model.units": [4, 8], "window.lookback": [12, 24]}


def write_sweep(folder: Path, epochs: int, ensemble: int = 1) -> Path:
    """The bench's base preset (milk.toml, ``ensemble`` networks per point, ``epochs``) and sweep file, in ``folder``."""
    base = tomllib.loads((paths.configs_dir() / "milk.toml").read_text())
    base["source"]["path"] = str(paths.PROJECT_ROOT / "data" / "monthly-milk.csv")
    base["model"]["ensemble"] = ensemble
    # Every point trains exactly ``epochs`` (patience as long): the work per point is what the bench sets.
    base["train"].update(epochs=epochs, patience=epochs, progress=False)
    base["tracking"]["experiment"] = "bench-sweep"
    (folder / "base.toml").write_text(to_toml(base, "seqflow bench sweep: milk.toml, quick"))
    sweep = {"base": str(folder / "base.toml"), "metric": "mase", "grid": GRID}
    (folder / "sweep.toml").write_text(to_toml(sweep, "seqflow bench sweep: cell x units x lookback"))
    return folder / "sweep.toml"


def _env(folder: Path, prefect_home: Path) -> dict[str, str]:
    """The environment of a run on its own artifacts ``folder`` with the bench's Prefect home."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    env.update(SEQFLOW_ARTIFACTS=str(folder), PREFECT_HOME=str(prefect_home),
               PREFECT_LOCAL_STORAGE_PATH=str(folder / "prefect-results"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def _start_server(prefect_home: Path) -> None:
    """Start the bench's standing local Prefect server (flows.ephemeral) before anything is timed."""
    code = "from flows import ephemeral; ephemeral.start_in_background(); ephemeral.wait()"
    subprocess.run([sys.executable, "-c", code], env=_env(prefect_home.parent / "warm-up", prefect_home),
                   check=True, timeout=300, cwd=paths.PROJECT_ROOT)


def _run(sweep: Path, folder: Path, runner: list[str], prefect_home: Path) -> tuple[dict, float]:
    """``seqflow run sweep`` in a fresh process on a store of its own under ``folder``; its summary and seconds."""
    env = _env(folder, prefect_home)
    command = [sys.executable, "-m", "flows.cli", "run", "sweep", "--config", str(sweep), "--best",
               str(folder / "best.toml"), "--json", *runner]
    began = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=7200, cwd=paths.PROJECT_ROOT)
    seconds = time.perf_counter() - began
    if out.returncode != 0:
        raise RuntimeError(f"`{' '.join(command[3:])}` failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout), seconds


def run_bench(workers: int, epochs: int, console, ensemble: int = 1) -> dict:
    """Run the sweep serially and on ``workers`` Dask processes, print the table, return the figures."""
    from rich.table import Table

    work = paths.bench_dir() / "sweep"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sweep = write_sweep(work, epochs, ensemble)
    home = work / "prefect-home"
    _start_server(home)
    try:
        serial, serial_s = _run(sweep, work / "serial", ["--runner", "serial"], home)
        dask, dask_s = _run(sweep, work / "dask", ["--runner", "dask", "--workers", str(workers)], home)
    finally:
        from flows import ephemeral

        ephemeral.stop_standing_server(home)
    on_dask = {p["number"]: p for p in dask["points"]}
    rows = [{"point": p["number"], "settings": p["label"], "rank": p["rank"], "serial": p["score"],
             "dask": on_dask[p["number"]]["score"], "equal": p["score"] == on_dask[p["number"]]["score"]}
            for p in serial["points"]]
    figures = {"points": len(rows), "workers": workers, "epochs": epochs, "ensemble": ensemble, "serial_s": serial_s, "dask_s": dask_s,
               "speedup": serial_s / dask_s, "equal": all(r["equal"] for r in rows), "rows": rows,
               "ranked_serial": serial["ranked"], "ranked_dask": dask["ranked"]}
    table = Table(title=f"bench sweep: {len(rows)} points on milk ({ensemble} network(s) each), serial vs a {workers}-worker local Dask cluster")
    for col in ("rank", "point", "settings", "MASE serial", "MASE dask", "equal"):
        table.add_column(col, justify="left" if col == "settings" else "right")
    for r in sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0)):
        table.add_row(str(r["rank"] or ""), str(r["point"]), r["settings"], _score(r["serial"]), _score(r["dask"]),
                      "yes" if r["equal"] else "NO")
    console.print(table)
    console.print(f"wall time: serial {serial_s:.1f} s, dask {dask_s:.1f} s ({workers} workers): "
                  f"speed-up {figures['speedup']:.2f}x; every score equal: {'yes' if figures['equal'] else 'NO'}",
                  highlight=False)
    console.print("wall time: the whole `seqflow run sweep` command (imports, the cluster's start, every point)",
                  highlight=False, style="dim")
    (work / "sweep.json").write_text(json.dumps(figures, indent=2))
    return figures


def _score(value: float | None) -> str:
    return "failed" if value is None else f"{value:.6f}"


if __name__ == "__main__":
    from rich.console import Console

    args = sys.argv[1:]
    option = {k: int(args[i + 1]) for i, k in enumerate(args) if k in ("--workers", "--epochs", "--ensemble")}
    run_bench(option.get("--workers", 2), option.get("--epochs", 20), Console(width=140), option.get("--ensemble", 1))
