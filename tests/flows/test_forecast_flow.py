"""End to end: the CLI runs the flow under a temporary Prefect server and MLflow store."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from flows.cli import app

pytestmark = pytest.mark.slow

SMALL = [
    "--set", "source.x_end=40",  # 400 points, period 63 steps
    "--set", "window.lookback=12",
    "--set", "model.units=12",
    "--set", "train.epochs=3",
    "--set", "evaluate.generate_steps=20",
    "--set", "tracking.experiment=e2e",
    "--set", "train.progress=false",
]


def _run(args):
    result = CliRunner().invoke(app, args)
    return result


@pytest.fixture(scope="module")
def first_run(prefect_harness):
    result = _run(["run", "forecast", "--source", "sine", *SMALL, "--set", "model.cells=lstm,manual_rnn", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_summary_names_runs_artifacts_and_metrics(first_run):
    assert set(first_run["models"]) == {"lstm", "manual_rnn"}
    for model in first_run["models"].values():
        assert np.isfinite(model["metrics"]["test_rmse"])
        assert np.isfinite(model["metrics"]["generated_rmse"])
        assert model["model_uri"].startswith("models:/")
    assert {b for b in first_run["baselines"]} == {"naive", "seasonal_naive", "autoreg"}
    assert [row["rank"] for row in first_run["ranking"]] == [1, 2, 3, 4, 5]


def test_mlflow_holds_parent_and_children_with_params_tags_and_plots(first_run, artifacts_root):
    from pathlib import Path

    from mlflow.tracking import MlflowClient

    from tasks import tracking

    client = MlflowClient(tracking.tracking_uri())
    parent = client.get_run(first_run["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.info.artifact_uri.startswith(Path(artifacts_root).as_uri())  # not ./mlruns
    assert parent.data.params["window.lookback"] == "12"
    assert parent.data.tags["seed"] == "42"
    assert parent.data.tags["data_content_hash"] == first_run["data_content_hash"]
    assert parent.data.tags["prefect_flow_run_id"] == first_run["flow_run_id"]
    assert len(parent.data.tags["git_commit"]) > 0
    for cell, model in first_run["models"].items():
        child = client.get_run(model["run_id"])
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.params["cell"] == cell
        history = client.get_metric_history(child.info.run_id, "loss")
        assert [m.step for m in history] == [0, 1, 2]
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id, "plots")}
        assert {"plots/test_forecast.png", "plots/generated.png", "plots/loss.png",
                "plots/gradient_norms.png"} <= artifacts


def test_logged_model_predicts_through_pyfunc(first_run):
    from tasks import tracking

    model = tracking.load_forecaster(first_run["models"]["manual_rnn"]["model_uri"])
    x = np.sin(0.1 * np.arange(12, dtype=np.float32)).reshape(1, 12, 1)
    out = model.predict(x)
    assert out.shape == (1, 1, 1)  # default target "horizon", horizon 1: the next step, in raw units
    assert np.all(np.isfinite(out))
    assert abs(out[0, 0, 0] - np.sin(1.2)) < 1.0  # three epochs: roughly on the wave, not exact


def test_rerun_reuses_ingest_and_windowing(first_run):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    again = _run(["run", "forecast", *SMALL, "--set", "model.cells=gru", "--json"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert summary["artifacts"]["windows"] == first_run["artifacts"]["windows"]

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[summary["flow_run_id"]]))
        )
    states = {run.name.rsplit("-", 1)[0]: run.state.name for run in runs}
    assert states["ingest-series"] == "Cached"
    assert states["window-series"] == "Cached"
    assert states["train-forecaster"] == "Completed"


def test_a_failure_mid_flow_leaves_no_run_running(prefect_harness, monkeypatch):
    from mlflow.tracking import MlflowClient

    from tasks import tracking
    from tasks.forecasting import training

    def explode(*args, **kwargs):
        raise ValueError("training blew up on purpose")

    monkeypatch.setattr(training, "fit_forecaster", explode)
    result = _run(["run", "forecast", *SMALL, "--set", "model.cells=rnn", "--set", "tracking.experiment=e2e-fail"])
    assert result.exit_code == 2
    assert "training blew up on purpose" in result.stderr
    client = MlflowClient(tracking.tracking_uri())
    exp = client.get_experiment_by_name("e2e-fail")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 2  # the parent and the rnn child
    assert {r.info.status for r in runs} == {"FAILED"}


def test_seqflow_ui_serves_the_same_store(first_run, artifacts_root):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SEQFLOW_ARTIFACTS": artifacts_root}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "ui", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/get?run_id={first_run['parent_run_id']}"
    try:
        deadline, body = time.monotonic() + 90, None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = json.loads(response.read())
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(f"seqflow ui exited: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(1)
        assert body is not None, "the MLflow UI did not answer within 90 s"
        assert body["run"]["info"]["status"] == "FINISHED"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
