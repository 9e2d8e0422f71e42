"""Real servers: Prefect's own server on a free port, `seqflow serve` with a one-minute cron, a scheduled
retrain that completes and leaves its decision in MLflow; every process stopped by its pid, also on failure."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tasks import paths

pytestmark = [pytest.mark.slow, pytest.mark.server]

NAME = "forecast-scheduled"
DEPLOYMENT = "retrain-every-minute"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flow_runs(api_url: str, deployment: str) -> list[dict]:
    body = json.dumps({"deployments": {"name": {"any_": [deployment]}}}).encode()
    request = urllib.request.Request(f"{api_url}/flow_runs/filter", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _deployments(api_url: str) -> list[dict]:
    request = urllib.request.Request(f"{api_url}/deployments/filter", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def prefect_server(tmp_path):
    from flows import prefect_server

    home = tmp_path / "prefect-home"
    state = prefect_server.start(home, _free_port())
    try:
        yield home, state
    finally:
        prefect_server.stop(home)
        assert prefect_server.running(home) is None


def test_a_scheduled_retrain_runs_on_prefect_server_and_records_its_decision(prefect_server, tmp_path, artifacts_root):
    from tasks import processes
    from tasks.tracking import registry, store

    home, server = prefect_server
    assert processes.alive(server["pid"], server["started"])
    data = tmp_path / "scheduled.csv"
    shutil.copy(paths.PROJECT_ROOT / "data" / "alcohol-sales.csv", data)
    sets = ["model.ensemble=1", "model.units=4", "train.epochs=5", "train.progress=false",
            f"tracking.registered_model={NAME}", "tracking.experiment=e2e-scheduled",
            "evaluate.baselines=naive,seasonal_naive", f"source.path={json.dumps(str(data))}"]
    (tmp_path / "deployments.toml").write_text(
        f'[[deployment]]\nname = "{DEPLOYMENT}"\nflow = "retrain"\npreset = "flows/configs/sales.toml"\n'
        f'cron = "* * * * *"\nset = {json.dumps(sets)}\n')
    env = {**os.environ, "PREFECT_API_URL": server["api_url"], "PREFECT_HOME": str(home),
           "SEQFLOW_ARTIFACTS": artifacts_root}
    log = open(tmp_path / "serve.log", "wb")
    serve = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--config", str(tmp_path / "deployments.toml")],
                             cwd=paths.PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        deadline, done = time.monotonic() + 360, None
        while time.monotonic() < deadline and done is None:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            runs = _flow_runs(server["api_url"], DEPLOYMENT)
            failed = [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")]
            assert not failed, (failed[0]["state"], (tmp_path / "serve.log").read_text()[-3000:])
            done = next((r for r in runs if r["state_type"] == "COMPLETED"), None)
            time.sleep(3)
        assert done is not None, "no scheduled run completed within 6 minutes:\n" + (tmp_path / "serve.log").read_text()[-3000:]
        assert done["auto_scheduled"] is True  # created by the server's scheduler, not by hand
        deployment = next(d for d in _deployments(server["api_url"]) if d["name"] == DEPLOYMENT)
        # Prefect 3 keeps a deployment's concurrency limit as a global limit of its own.
        assert (deployment.get("global_concurrency_limit") or {}).get("limit") == 1 or deployment["concurrency_limit"] == 1
        assert deployment["schedules"][0]["schedule"]["cron"] == "* * * * *"
        assert registry.version_by_alias(NAME, "champion") == registry.version_by_alias(NAME, "challenger") == "1"
        client = store.client()
        experiment = client.get_experiment_by_name("e2e-scheduled")
        retrains = [r for r in client.search_runs([experiment.experiment_id])
                    if r.data.tags.get("seqflow.flow") == "retrain" and r.data.tags.get("prefect_flow_run_id") == done["id"]]
        assert len(retrains) == 1 and retrains[0].info.status == "FINISHED"
        assert retrains[0].data.tags["decision"] == "promoted"
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            code = serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            code = serve.wait(timeout=30)
        log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()[-3000:]
    left = [r for r in _flow_runs(server["api_url"], DEPLOYMENT) if r["state_type"] in ("RUNNING", "PENDING")]
    assert left == []
