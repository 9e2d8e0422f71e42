"""End to end: the CLI runs the sine study under a temporary Prefect server and MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

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
    return CliRunner().invoke(app, args)


def _task_states(flow_run_id: str) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {run.name.rsplit("-", 1)[0]: run.state.name for run in task_runs}


@pytest.fixture(scope="module")
def first_run(prefect_harness):
    result = _run(["run", "study", *SMALL, "--set", "model.cells=lstm,manual_rnn", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _model(summary, cell):
    return next(m for m in summary["models"] if m["cell"] == cell)


def test_summary_names_runs_artifacts_and_metrics(first_run):
    assert [m["cell"] for m in first_run["models"]] == ["lstm", "manual_rnn"]
    for model in first_run["models"]:
        assert model["failure"] is None
        assert np.isfinite(model["metrics"]["test_rmse"])
        assert np.isfinite(model["metrics"]["generated_rmse"])
        assert model["model_uri"].startswith("models:/")
    assert [b["name"] for b in first_run["baselines"]] == ["naive", "seasonal_naive", "autoreg"]
    assert [row["rank"] for row in first_run["ranking"]] == [1, 2, 3, 4, 5]
    assert first_run["parent_run_name"].startswith("study · sine · ")
    assert first_run["flow"] == "sine-study"


def test_mlflow_holds_parent_and_children_with_params_tags_plots_and_named_models(first_run, artifacts_root):
    from tasks.tracking import store

    client = store.client()
    parent = client.get_run(first_run["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == first_run["parent_run_name"]
    assert parent.info.artifact_uri.startswith(Path(artifacts_root).as_uri())  # not ./mlruns
    assert parent.data.params["window.lookback"] == "12"
    assert parent.data.tags["seed"] == "42"
    assert parent.data.tags["data_content_hash"] == first_run["data_content_hash"]
    assert parent.data.tags["prefect_flow_run_id"] == first_run["flow_run_id"]
    assert "`window.lookback=12`" in parent.data.tags["mlflow.note.content"]
    assert len(parent.data.tags["git_commit"]) > 0
    best = next(r["forecaster"] for r in first_run["ranking"] if r["kind"] == "model")
    assert parent.data.tags["best_model"] == best
    assert [o.model_id for o in parent.outputs.model_outputs] == [_model(first_run, best)["model_id"]]
    for model in first_run["models"]:
        child = client.get_run(model["run_id"])
        assert child.info.status == "FINISHED"
        assert child.info.run_name == f"{model['cell']} · sine"
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.params["cell"] == model["cell"]
        assert [m.step for m in client.get_metric_history(child.info.run_id, "loss")] == [0, 1, 2]
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id, "plots")}
        assert {"plots/test_forecast.png", "plots/generated.png", "plots/loss.png",
                "plots/gradient_norms.png"} <= artifacts
        assert client.get_logged_model(model["model_id"]).name == f"{model['cell']}-sine"


def test_logged_model_predicts_exactly_the_models_own_forecast(first_run):
    import keras

    from tasks import storage
    from tasks.nets import cells  # noqa: F401  registers the hand-built cells
    from tasks.nets.models import raw_forecast
    from tasks.nets.windowing import WindowTable
    from tasks.tracking import models

    result = _model(first_run, "manual_rnn")
    pyfunc = models.load_model(result["model_uri"])
    x = np.sin(0.1 * np.arange(12)).reshape(1, 12, 1)  # float64, NumPy's default
    out = pyfunc.predict(x)
    stored = storage.read_arrays(Path(first_run["windows_path"]))
    scaler = WindowTable.from_arrays(stored.arrays, stored.metadata).scaler
    expected = raw_forecast(keras.saving.load_model(result["model_path"], compile=False), scaler, x)
    assert out.shape == (1, 1, 1)
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(Exception, match="Shape of input"):
        pyfunc.predict(np.zeros((1, 12)))


def test_rerun_reuses_ingest_and_windowing(first_run):
    again = _run(["run", "study", *SMALL, "--set", "model.cells=gru", "--json"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert summary["windows_path"] == first_run["windows_path"]
    states = _task_states(summary["flow_run_id"])
    assert states["synthesize-wave"] == "Cached"
    assert states["window-wave"] == "Cached"
    assert states["train-cell"] == "Completed"


def test_a_deleted_intermediate_is_rebuilt_by_the_next_run(first_run):
    windows = Path(first_run["windows_path"])
    windows.unlink()
    again = _run(["run", "study", *SMALL, "--set", "model.cells=rnn", "--json"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert summary["windows_path"] == str(windows) and windows.exists()
    states = _task_states(summary["flow_run_id"])
    assert states["synthesize-wave"] == "Cached"
    assert states["window-wave"] == "Completed"


def test_a_crash_mid_flow_exits_1_with_a_traceback_and_leaves_no_run_running(prefect_harness, monkeypatch):
    from tasks.nets import training
    from tasks.tracking import store

    def explode(*args, **kwargs):
        raise ZeroDivisionError("training blew up on purpose")

    monkeypatch.setattr(training, "fit_forecaster", explode)
    result = _run(["run", "study", *SMALL, "--set", "model.cells=rnn", "--set", "tracking.experiment=e2e-fail"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ZeroDivisionError)  # not turned into a one-line "bad input"
    client = store.client()
    exp = client.get_experiment_by_name("e2e-fail")
    found = client.search_runs([exp.experiment_id])
    assert len(found) == 2  # the parent and the rnn child
    assert {r.info.status for r in found} == {"FAILED"}
    assert all("ZeroDivisionError: training blew up on purpose" in r.data.tags["seqflow.failure"] for r in found)


def test_a_diverged_model_fails_alone_and_is_never_ranked(prefect_harness, monkeypatch):
    import keras

    from tasks.nets import training
    from tasks.tracking import store

    build = training.build_forecaster

    def nan_for_rnn(cell, *args, **kwargs):
        model = build(cell, *args, **kwargs)
        if cell != "rnn":
            return model
        poisoned = keras.layers.Lambda(lambda t: t * float("nan"), name="poison")(model.output)
        return keras.Model(model.input, poisoned)

    monkeypatch.setattr(training, "build_forecaster", nan_for_rnn)
    args = ["run", "study", *SMALL, "--set", "train.epochs=2", "--set", "tracking.experiment=e2e-nan"]
    result = _run([*args, "--set", "model.cells=rnn,gru", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    rnn = _model(summary, "rnn")
    assert "training diverged: loss nan" in rnn["failure"]
    assert "rnn" not in [row["forecaster"] for row in summary["ranking"]]
    assert store.client().get_run(rnn["run_id"]).info.status == "FAILED"
    assert "training diverged" in store.client().get_run(rnn["run_id"]).data.tags["seqflow.failure"]

    only_nan = _run([*args, "--set", "model.cells=rnn"])
    assert only_nan.exit_code == 1
    assert "every model failed: rnn: training diverged" in only_nan.stderr


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


def test_the_documented_model_snippet_works_as_written(first_run, artifacts_root, tmp_path):
    import os
    import re
    import subprocess
    import sys

    from tasks import paths

    # The README points at docs/study.md for loading a model from Python.
    assert "docs/study.md" in (paths.PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    doc = (paths.PROJECT_ROOT / "docs" / "study.md").read_text(encoding="utf-8")
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", doc, re.S) if "load_model" in block)
    snippet = re.sub(r"^  ", "", snippet, flags=re.M)  # the block is indented inside a list item
    snippet = re.sub(r"\s+#.*$", "", snippet, flags=re.M)  # comments off, so the last line can be wrapped
    snippet = snippet.replace("models:/m-...", _model(first_run, "lstm")["model_uri"])
    snippet = snippet.replace("np.arange(32)).reshape(1, 32, 1)", "np.arange(12)).reshape(1, 12, 1)")  # lookback 12
    snippet = snippet.replace("model.predict(", "print(model.predict(").rstrip() + ")\n"
    (tmp_path / "artifacts").symlink_to(artifacts_root)  # a project root whose artifacts/ is the test store
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    out = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"\[\[\[-?\d", out.stdout)  # a (1, 1, 1) forecast
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()
