"""Real processes on a private store: a killed run is reconciled by the next, two first runs coexist."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SMALL = ["--set", "source.x_end=40", "--set", "window.lookback=12", "--set", "model.units=8",
         "--set", "evaluate.generate_steps=20", "--set", "train.progress=false"]


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    env["SEQFLOW_ARTIFACTS"] = str(root)
    return env


def _seqflow(root: Path, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flows.cli", *args], env=_env(root), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def _runs(root: Path) -> list:
    from mlflow.tracking import MlflowClient

    from tasks.tracking.store import creation_lock

    db = root / "mlflow" / "mlflow.db"
    if not db.exists():
        return []
    # Never race the flow while it creates the schema: MLflow 3's client opens (and would migrate)
    # the store as it is constructed, so the construction too happens under the lock.
    with creation_lock(f"sqlite:///{db}"):
        client = MlflowClient(f"sqlite:///{db}")
        ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids) if ids else []


def test_a_killed_run_is_closed_as_killed_and_crashed_by_the_next_run(tmp_path):
    root = tmp_path / "artifacts"
    victim = _seqflow(root, "run", "study", *SMALL, "--set", "model.cells=gru",
                      "--set", "train.epochs=5000", "--set", "train.patience=5000", start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if any(r.info.run_name.startswith("gru") and r.info.status == "RUNNING" for r in _runs(root)):
                break
            assert victim.poll() is None, victim.stderr.read()
            time.sleep(1)
        else:
            pytest.fail("the gru run never started")
        time.sleep(2)  # well inside training
    finally:
        os.killpg(victim.pid, signal.SIGKILL)  # what `kill -9` on the process group does
        victim.wait()
    before = {r.info.run_id: r for r in _runs(root)}
    assert {r.info.status for r in before.values()} == {"RUNNING"}  # parent and gru, left open
    flow_run_id = next(iter(before.values())).data.tags["prefect_flow_run_id"]

    nxt = _seqflow(root, "run", "study", *SMALL, "--set", "model.cells=rnn", "--set", "train.epochs=1", "--json")
    out, err = nxt.communicate(timeout=400)
    assert nxt.returncode == 0, err
    assert sorted(json.loads(out)["reconciled_runs"]) == sorted(before)
    assert "closed 2 run(s) left RUNNING by a killed process as KILLED" in err
    after = {r.info.run_id: r.info.status for r in _runs(root)}
    assert {after[run_id] for run_id in before} == {"KILLED"}

    check = (
        "from prefect.client.orchestration import get_client\n"
        "from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId\n"
        f"flow_run_id = {flow_run_id!r}\n"
        "with get_client(sync_client=True) as c:\n"
        "    states = [c.read_flow_run(flow_run_id).state.name]\n"
        "    f = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))\n"
        "    states += sorted({t.state.name for t in c.read_task_runs(flow_run_filter=f) if t.name.startswith('train-cell')})\n"
        "print(' '.join(states))\n"
    )
    env = _env(root)
    env["PREFECT_HOME"] = str(root / "prefect")
    states = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=300)
    assert states.stdout.split() == ["Crashed", "Crashed"], states.stderr[-2000:]


def test_two_first_runs_at_once_on_a_cold_store_both_succeed(tmp_path):
    root = tmp_path / "cold"
    args = ["run", "study", *SMALL, "--set", "model.cells=rnn", "--set", "train.epochs=1", "--json"]
    procs = [_seqflow(root, *args), _seqflow(root, *args)]
    outcomes = [p.communicate(timeout=500) for p in procs]
    for proc, (out, err) in zip(procs, outcomes):
        assert proc.returncode == 0, err[-3000:]
        assert json.loads(out)["models"][0]["failure"] is None
        for noise in ("absl::InitializeLog", "oneDNN custom operations", "cuda drivers"):
            assert noise not in err  # TensorFlow's start-up lines are silenced without --verbose
    statuses = [r.info.status for r in _runs(root)]
    assert sorted(statuses) == ["FINISHED"] * 4  # two parents, two children
