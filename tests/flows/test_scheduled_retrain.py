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


def _ranking_artifact(api_url: str) -> dict:
    """The forecast ranking table a flow run of this server published (the retrain's challenger run)."""
    request = urllib.request.Request(f"{api_url}/artifacts/filter", data=b'{"artifacts": {"type": {"any_": ["table"]}}}',
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        tables = json.loads(response.read())
    return next(a for a in tables if (a.get("key") or "").endswith("-ranking") and a.get("flow_run_id"))


def _deployments(api_url: str) -> list[dict]:
    request = urllib.request.Request(f"{api_url}/deployments/filter", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory, artifacts_root):
    """Prefect's own server, `seqflow serve` until one scheduled retrain completed, then serve stopped (SIGTERM).

    The server stays up for the tests (its UI is photographed) and is stopped by its pid at the end.
    """
    from flows import prefect_server

    tmp = tmp_path_factory.mktemp("scheduled")
    home = tmp / "prefect-home"
    server = prefect_server.start(home, _free_port())
    try:
        data = tmp / "scheduled.csv"
        shutil.copy(paths.PROJECT_ROOT / "data" / "alcohol-sales.csv", data)
        sets = ["model.ensemble=1", "model.units=4", "train.epochs=5", "train.progress=false",
                f"tracking.registered_model={NAME}", "tracking.experiment=e2e-scheduled",
                "evaluate.baselines=naive,seasonal_naive", f"source.path={json.dumps(str(data))}"]
        (tmp / "deployments.toml").write_text(
            f'[[deployment]]\nname = "{DEPLOYMENT}"\nflow = "retrain"\npreset = "flows/configs/sales.toml"\n'
            f'cron = "* * * * *"\nset = {json.dumps(sets)}\n')
        env = {**os.environ, "PREFECT_API_URL": server["api_url"], "PREFECT_HOME": str(home),
               "SEQFLOW_ARTIFACTS": artifacts_root}
        log_path = tmp / "serve.log"
        with open(log_path, "wb") as log:
            serve = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--config", str(tmp / "deployments.toml")],
                                     cwd=paths.PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
            done, problem = None, None
            try:
                deadline = time.monotonic() + 360
                while time.monotonic() < deadline and done is None and problem is None:
                    if serve.poll() is not None:
                        problem = "seqflow serve exited"
                        break
                    runs = _flow_runs(server["api_url"], DEPLOYMENT)
                    failed = [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")]
                    problem = f"a scheduled run ended {failed[0]['state_type']}" if failed else None
                    done = next((r for r in runs if r["state_type"] == "COMPLETED"), None)
                    time.sleep(3)
            finally:
                os.killpg(serve.pid, signal.SIGTERM)
                try:
                    code = serve.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(serve.pid, signal.SIGKILL)
                    code = serve.wait(timeout=30)
        assert problem is None and done is not None, (problem or "no scheduled run completed in 6 minutes") + \
            "\n" + log_path.read_text()[-3000:]
        yield {"server": server, "home": home, "run": done, "serve_exit": code, "log": log_path}
    finally:
        prefect_server.stop(home)
        assert prefect_server.running(home) is None


def test_a_scheduled_retrain_runs_on_prefect_server_and_records_its_decision(scheduled):
    from tasks import processes
    from tasks.tracking import registry, store

    server, done = scheduled["server"], scheduled["run"]
    assert processes.alive(server["pid"], server["started"])
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


def test_sigterm_stops_serve_cleanly_and_leaves_no_run_running(scheduled):
    assert scheduled["serve_exit"] == 0, scheduled["log"].read_text()[-3000:]
    left = [r for r in _flow_runs(scheduled["server"]["api_url"], DEPLOYMENT) if r["state_type"] in ("RUNNING", "PENDING")]
    assert left == []
    deployment = next(d for d in _deployments(scheduled["server"]["api_url"]) if d["name"] == DEPLOYMENT)
    assert deployment["paused"] is True  # serve pauses the schedules it served when it stops


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = paths.PROJECT_ROOT / "artifacts" / "browser"


@pytest.mark.browser
def test_the_uis_show_the_deployment_its_schedule_the_scheduled_run_and_both_aliases(scheduled, artifacts_root):
    if CHROMIUM is None:
        if os.environ.get("SEQFLOW_REQUIRE_BROWSER") == "1":
            pytest.fail("SEQFLOW_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH: apt-get install chromium to run the browser test")
    from playwright.sync_api import sync_playwright

    ui = scheduled["server"]["ui_url"]
    deployment = next(d for d in _deployments(scheduled["server"]["api_url"]) if d["name"] == DEPLOYMENT)
    port = _free_port()
    mlflow_ui = subprocess.Popen([sys.executable, "-m", "flows.cli", "ui", "--port", str(port)],
                                 env={**os.environ, "SEQFLOW_ARTIFACTS": artifacts_root},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except OSError:
                assert mlflow_ui.poll() is None and time.monotonic() < deadline, "seqflow ui did not answer"
                time.sleep(1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{ui}/deployments/deployment/{deployment['id']}")
            page.get_by_text(DEPLOYMENT).first.wait_for(timeout=60_000)
            time.sleep(3)
            page.screenshot(path=str(SHOTS / "20-1-prefect-deployment-and-schedule.png"))
            body = page.inner_text("body").lower()
            assert "every minute" in body or "* * * * *" in body, body[:2000]  # the schedule, as Prefect words it
            page.goto(f"{ui}/runs")
            page.get_by_text("Completed").first.wait_for(timeout=60_000)
            time.sleep(2)
            page.screenshot(path=str(SHOTS / "20-2-prefect-scheduled-runs.png"))
            page.goto(f"{ui}/runs/flow-run/{scheduled['run']['id']}")
            page.get_by_text("Artifacts").first.wait_for(timeout=60_000)
            page.get_by_text("Artifacts").first.click()
            page.get_by_text("decision", exact=False).first.wait_for(timeout=30_000)
            time.sleep(2)
            page.screenshot(path=str(SHOTS / "20-3-prefect-run-decision-artifact.png"))
            # The challenger's forecasting flow run: named after its subject, its ranking as a table artifact.
            ranking = _ranking_artifact(scheduled["server"]["api_url"])
            page.goto(f"{ui}/runs/flow-run/{ranking['flow_run_id']}")
            page.get_by_text("Artifacts").first.wait_for(timeout=60_000)
            page.get_by_text("Artifacts").first.click()
            page.get_by_text(ranking["key"]).first.wait_for(timeout=30_000)
            page.get_by_text(ranking["key"]).first.click()
            page.get_by_text("seasonal_naive").first.wait_for(timeout=30_000)  # a row of the ranking
            time.sleep(2)
            page.screenshot(path=str(SHOTS / "22-prefect-forecast-run-ranking-artifact.png"))
            body = page.inner_text("body")
            assert "mase" in body.lower() and "forecaster" in body.lower(), body[:2000]
            page.goto(f"http://127.0.0.1:{port}/#/models/{NAME}")
            page.get_by_text("champion").first.wait_for(timeout=60_000)
            page.get_by_text("challenger").first.wait_for(timeout=30_000)
            time.sleep(2)
            page.screenshot(path=str(SHOTS / "20-4-mlflow-registered-model-aliases.png"))
            browser.close()
    finally:
        os.killpg(mlflow_ui.pid, signal.SIGTERM)
        mlflow_ui.wait(timeout=30)
