"""A real ``mlflow server`` as the tracking store: a forecast run logs to it over HTTP and is read back
through its REST API (plain HTTP, no MLflow client); the server is stopped by its process group, also
on failure. The first tests need no server: what the CLI says and starts when the store is one."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from tasks import paths

EXPERIMENT = "over-http"
MODEL = "forecast-monthly-milk"
TINY = [
    "--source", "csv", "--path", str(paths.PROJECT_ROOT / "data" / "monthly-milk.csv"), "--horizon", "12",
    "--set", "window.lookback=12",
    "--set", "model.recipe=manual",
    "--set", "model.cells=gru",
    "--set", "model.units=4",
    "--set", "train.epochs=2",
    "--set", "train.progress=false",
    "--set", "evaluate.folds=1",
    "--set", "evaluate.baselines=naive,seasonal_naive",
    "--set", f"tracking.experiment={EXPERIMENT}",
]
# What DESIGN.md asks of an offline machine, and no background job runner in the server under test.
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "DO_NOT_TRACK": "true",
              "MLFLOW_DISABLE_TELEMETRY": "true", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def test_seqflow_ui_on_a_tracking_server_names_its_address_and_starts_nothing(monkeypatch):
    from flows.cli import app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000/")

    def no_exec(*args):
        raise AssertionError(f"seqflow ui started {args}")

    monkeypatch.setattr(os, "execvp", no_exec)
    result = CliRunner().invoke(app, ["ui"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "http://mlflow.example:5000/#/experiments?workflowType=machine_learning" in said
    assert "MLFLOW_TRACKING_URI" in said


def test_where_a_run_is_recorded_names_the_servers_ui_not_a_local_one():
    from rich.console import Console

    from flows.cli.options import print_where

    buffer = io.StringIO()
    summary = SimpleNamespace(tracking_uri="https://mlflow.example", experiment_id="7",
                              parent_run_name="forecast · x · 1", parent_run_id="abc")
    print_where(Console(file=buffer, width=300), summary)
    assert "https://mlflow.example/#/experiments/7?workflowType=machine_learning" in buffer.getvalue()
    assert "seqflow ui" not in buffer.getvalue()
    assert "127.0.0.1:5000" not in buffer.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, endpoint: str, **query: str) -> bytes:
    with urllib.request.urlopen(f"{url}{endpoint}?{urllib.parse.urlencode(query)}", timeout=30) as response:
        return response.read()


def _stop(process: subprocess.Popen) -> None:
    """Stop the server's whole process group (uvicorn spawns workers), SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """``mlflow server`` on SQLite in a temporary folder, proxying artifacts to another; yields its URL and folders."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("wb")
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
           "--serve-artifacts", "--artifacts-destination", str(root / "mlartifacts"),
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(cmd, env={**os.environ, **SERVER_ENV}, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True, cwd=root)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, f"mlflow server exited {server.returncode}: {(root / 'server.log').read_text()[-2000:]}"
            try:
                if _get(url, "/health") == b"OK":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not answer /health within 180 s"
            time.sleep(1)
        yield SimpleNamespace(url=url, root=root)
    finally:
        _stop(server)
        log.close()


@pytest.fixture(scope="module")
def run_on_server(mlflow_server, tmp_path_factory):
    """One tiny forecast run through the CLI, in its own process, logging to the server; its stdout and folders."""
    artifacts = tmp_path_factory.mktemp("seqflow-artifacts")
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url, "SEQFLOW_ARTIFACTS": str(artifacts),
           "PYTHONPATH": str(paths.PROJECT_ROOT)}
    for var in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "PREFECT_API_URL"):
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "forecast", *TINY, "--json"], env=env,
                          cwd=paths.PROJECT_ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-4000:]
    return SimpleNamespace(stdout=done.stdout, artifacts=artifacts)


@pytest.mark.slow
@pytest.mark.server
def test_json_summary_is_all_stdout_says_when_logging_over_http(run_on_server, mlflow_server):
    summary = json.loads(run_on_server.stdout)  # MLflow prints "View run ... at" to stdout for HTTP stores
    assert summary["tracking_uri"] == mlflow_server.url
    assert summary["parent_artifacts"].startswith("mlflow-artifacts:/")


@pytest.mark.slow
@pytest.mark.server
def test_the_parent_runs_metrics_read_back_over_rest_match_the_summary(run_on_server, mlflow_server):
    summary = json.loads(run_on_server.stdout)
    run = json.loads(_get(mlflow_server.url, "/api/2.0/mlflow/runs/get", run_id=summary["parent_run_id"]))["run"]
    assert run["info"]["status"] == "FINISHED"
    assert run["info"]["run_name"] == summary["parent_run_name"]
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert metrics["run_seconds"] > 0
    ranked = {r["forecaster"]: r for r in summary["ranking"]}
    assert set(ranked) == {"gru", "naive", "seasonal_naive"}
    for name, row in ranked.items():
        assert metrics[f"by_model.{name}.mase"] == pytest.approx(row["mase"], rel=1e-6), name
    assert metrics["mase"] == pytest.approx(ranked["gru"]["mase"], rel=1e-6)  # the served model's, as its child names it
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params["train.epochs"] == "2"
    # Nothing local stands in for the server: no SQLite store under SEQFLOW_ARTIFACTS.
    assert not (run_on_server.artifacts / "mlflow").exists()


@pytest.mark.slow
@pytest.mark.server
def test_an_artifact_is_served_by_the_server_from_its_destination(run_on_server, mlflow_server):
    summary = json.loads(run_on_server.stdout)
    run_id = summary["parent_run_id"]
    listed = json.loads(_get(mlflow_server.url, "/api/2.0/mlflow/artifacts/list", run_id=run_id))
    files = [f["path"] for f in listed.get("files", []) if not f["is_dir"]]
    name = "ranking.json"
    assert name in files, listed
    body = _get(mlflow_server.url, "/get-artifact", path=name, run_uuid=run_id)
    assert all(r["forecaster"] in body.decode() for r in summary["ranking"])
    stored = list((mlflow_server.root / "mlartifacts").rglob(Path(name).name))
    assert any(run_id in str(p) and p.read_bytes() == body for p in stored), stored


@pytest.mark.slow
@pytest.mark.server
def test_the_registered_version_reads_back_over_rest(run_on_server, mlflow_server):
    summary = json.loads(run_on_server.stdout)
    found = json.loads(_get(mlflow_server.url, "/api/2.0/mlflow/registered-models/alias", name=MODEL, alias="candidate"))
    version = found["model_version"]
    assert version["status"] == "READY"
    assert version["run_id"] == summary["parent_run_id"]
    tags = {t["key"]: t["value"] for t in version["tags"]}
    gru = next(r for r in summary["ranking"] if r["forecaster"] == "gru")
    assert float(tags["holdout_mase"]) == pytest.approx(gru["mase"], rel=1e-5)


def _post(url: str, endpoint: str, body: dict) -> dict:
    request = urllib.request.Request(f"{url}{endpoint}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.slow
@pytest.mark.server
def test_a_run_left_running_by_a_dead_process_is_closed_over_http(run_on_server, mlflow_server, monkeypatch):
    from tasks import processes
    from tasks.tracking import runs

    summary = json.loads(run_on_server.stdout)
    dead = subprocess.Popen(["true"])
    started = processes.start_time(dead.pid)
    dead.wait()
    owner = {runs.OWNER_HOST: socket.gethostname(), runs.OWNER_PID: str(dead.pid), runs.OWNER_START: started}
    created = _post(mlflow_server.url, "/api/2.0/mlflow/runs/create", {
        "experiment_id": summary["experiment_id"], "run_name": "killed mid-run", "start_time": int(time.time() * 1000),
        "tags": [{"key": k, "value": v} for k, v in owner.items()]})
    run_id = created["run"]["info"]["run_id"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    closed = runs.reconcile_dead_runs()
    assert [d.run_id for d in closed] == [run_id]
    run = json.loads(_get(mlflow_server.url, "/api/2.0/mlflow/runs/get", run_id=run_id))["run"]
    assert run["info"]["status"] == "KILLED"
    parent = json.loads(_get(mlflow_server.url, "/api/2.0/mlflow/runs/get", run_id=summary["parent_run_id"]))["run"]
    assert parent["info"]["status"] == "FINISHED"  # its owner is gone too, but it ended: never touched
