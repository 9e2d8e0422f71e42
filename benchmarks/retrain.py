"""What one retrain costs beyond its training, on Prefect's own server: the scheduled job's overhead.

Prefect's own server is started on a free port (its own Prefect home under the bench folder), then
``seqflow run retrain`` runs twice on the sales preset against it in fresh processes: the first on
the file less its last 12 months (no champion: it promotes), the second on the whole file (the
challenger against the champion on the same fresh holdout). For each, Prefect's own record gives the
retrain flow run's wall time and the wall time of the challenger's training (the subflow's
``train-model`` task runs); the rest is the overhead: ingest, validation, the subflow's evaluation
and publishing, scoring both served models, the gate and its records.

Usage: ``python -m benchmarks.retrain [--set KEY=VALUE ...]`` (``seqflow bench retrain``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from tasks import paths


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(api: str, route: str, body: dict) -> list[dict]:
    request = urllib.request.Request(f"{api}/{route}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _seconds(run: dict) -> float:
    from datetime import datetime

    start, end = run.get("start_time"), run.get("end_time")
    if not start or not end:
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _timings(api: str, flow_run_id: str) -> dict[str, float]:
    """The retrain's wall time and its challenger's training time, from Prefect's record of each run."""
    flow_run = _post(api, "flow_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}})[0]
    subflows = _post(api, "flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [flow_run_id]}}})
    ids = [flow_run_id, *(s["id"] for s in subflows)]
    tasks = _post(api, "task_runs/filter", {"flow_runs": {"id": {"any_": ids}}})
    train = sum(_seconds(t) for t in tasks if t["name"].startswith("train-model"))
    return {"flow": _seconds(flow_run), "train": train, "subflow": sum(_seconds(s) for s in subflows)}


def run_bench(overrides: list[str], console) -> dict:
    """Start Prefect's own server, run two retrains against it, print the table; stop the server by its pid."""
    from rich.table import Table

    from flows import prefect_server

    work = paths.bench_dir() / "retrain"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    home, data = work / "prefect-home", work / "sales.csv"
    full = (paths.PROJECT_ROOT / "data" / "alcohol-sales.csv").read_text().splitlines()
    began = time.perf_counter()
    server = prefect_server.start(home, _free_port())
    server_seconds = time.perf_counter() - began
    env = {**os.environ, "PREFECT_API_URL": server["api_url"], "PREFECT_HOME": str(home),
           "SEQFLOW_ARTIFACTS": str(work / "artifacts")}
    rows = []
    try:
        for label, lines in (("first (promotes)", full[:-12]), ("second (challenger vs champion)", full)):
            data.write_text("\n".join(lines) + "\n")
            command = [sys.executable, "-m", "flows.cli", "run", "retrain", "--config",
                       str(paths.configs_dir() / "sales.toml"), "--set", f"source.path={json.dumps(str(data))}",
                       "--set", "train.progress=false", *sum((["--set", o] for o in overrides), []), "--json"]
            began = time.perf_counter()
            out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600,
                                 cwd=paths.PROJECT_ROOT)
            process = time.perf_counter() - began
            if out.returncode != 0:
                raise RuntimeError(f"the retrain failed:\n{out.stderr[-3000:]}")
            summary = json.loads(out.stdout)
            t = _timings(server["api_url"], summary["flow_run_id"])
            rows.append({"retrain": label, "status": summary["status"], "process_s": process, "flow_s": t["flow"],
                         "train_s": t["train"], "overhead_s": t["flow"] - t["train"],
                         "ratio": t["flow"] / t["train"] if t["train"] else float("nan")})
    finally:
        prefect_server.stop(home)
    table = Table(title=f"bench retrain: sales preset on Prefect's own server (started in {server_seconds:.1f} s)")
    for col in ("retrain", "decision", "command", "flow run", "training", "overhead", "flow / training"):
        table.add_column(col, justify="left" if col in ("retrain", "decision") else "right")
    for r in rows:
        table.add_row(r["retrain"], r["status"], f"{r['process_s']:.1f} s", f"{r['flow_s']:.1f} s",
                      f"{r['train_s']:.1f} s", f"{r['overhead_s']:.1f} s", f"{r['ratio']:.2f}x")
    console.print(table)
    console.print("flow run and training: Prefect's record of the retrain's flow run and of its challenger's "
                  "train-model task runs; command: the whole `seqflow run retrain` process (imports included)",
                  highlight=False, style="dim")
    (work / "retrain.json").write_text(json.dumps({"server_start_s": server_seconds, "rows": rows}, indent=2))
    return {"server_start_s": server_seconds, "rows": rows}


if __name__ == "__main__":
    from rich.console import Console

    sets = [a for i, a in enumerate(sys.argv[1:]) if i % 2 == 1 and sys.argv[1:][i - 1] == "--set"]
    run_bench(sets, Console(width=120))
