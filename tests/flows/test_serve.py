"""End to end: a tiny run registers its best model; it is loaded, predicted and served, and equals the flow's forecast."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app

pytestmark = pytest.mark.slow

HORIZON = 6
NAME = "test-forecaster"
SMALL = [
    "--horizon", str(HORIZON),
    "--set", "source.id_column=store",
    "--set", "window.lookback=12",
    "--set", "model.units=8",
    "--set", "model.recipe=manual",
    "--set", "model.cells=gru",
    "--set", "model.ensemble=2",
    "--set", "preprocess.deseasonalise=classical",
    "--set", "preprocess.log=true",
    "--set", "preprocess.level=last",
    "--set", "train.epochs=3",
    "--set", "train.progress=false",
    "--set", "evaluate.folds=2",
    "--set", "evaluate.baselines=naive,seasonal_naive",
    "--set", f"tracking.registered_model={NAME}",
    "--set", "tracking.experiment=e2e-serve",
]
# The served model runs the same Keras weights on the same float32 windows as the flow, but one
# series per call where the flow batches every series: oneDNN may round a batch differently in the
# last bits, so forecasts are compared to a relative 1e-5 (float32 has about 7 digits).
RTOL = 1e-5


def _shop(path: Path) -> Path:
    rows = ["store,month,units"]
    for k, (store, n) in enumerate((("north", 60), ("south", 54))):
        months = pd.date_range("2015-01-01", periods=n, freq="MS")
        values = 200.0 + 50 * k + 2.0 * np.arange(n) + 30 * np.sin(2 * np.pi * np.arange(n) / 12)
        rows += [f"{store},{m:%Y-%m},{v:.2f}" for m, v in zip(months, values)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def run(prefect_harness, tmp_path_factory):
    shop = _shop(tmp_path_factory.mktemp("serve") / "shop.csv")
    result = CliRunner().invoke(app, ["run", "forecast", "--source", "csv", "--path", str(shop), *SMALL, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), shop


@pytest.fixture(scope="module")
def flow_forecast(run):
    from tasks import storage

    summary, _ = run
    out = storage.read_frame(Path(summary["forecasts_path"]))
    return out[(out["model"] == summary["served"]["cell"]) & (out["fold"] == 0)].sort_values(
        ["series_id", "horizon_step"], ignore_index=True)


@pytest.fixture(scope="module")
def history(run, tmp_path_factory) -> Path:
    """Every series up to the flow's latest origin (the last HORIZON months cut), as a history CSV."""
    _, shop = run
    frame = pd.read_csv(shop)
    cut = frame[frame.groupby("store").cumcount(ascending=False) >= HORIZON]
    path = tmp_path_factory.mktemp("history") / "history.csv"
    cut.rename(columns={"store": "series_id", "month": "timestamp", "units": "value"}).to_csv(path, index=False)
    return path


def _history_frame(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"series_id": str, "timestamp": str})


def _assert_same_forecast(served: pd.DataFrame, flow: pd.DataFrame) -> None:
    served = served.sort_values(["series_id", "timestamp"], ignore_index=True)
    assert served["series_id"].tolist() == flow["series_id"].tolist()
    assert pd.DatetimeIndex(served["timestamp"]).equals(pd.DatetimeIndex(flow["timestamp"]))
    for column in ("yhat", "lower", "upper"):
        np.testing.assert_allclose(served[column].to_numpy(), flow[column].to_numpy(), rtol=RTOL, err_msg=column)


def test_the_best_model_is_registered_as_candidate_and_equals_the_flows_forecast(run, flow_forecast, history):
    from tasks.tracking import models, registry, store

    summary, _ = run
    served = summary["served"]
    best = next(r["forecaster"] for r in summary["ranking"] if r["kind"] == "model")
    assert served["cell"] == best and served["registered_model"] == NAME and served["alias"] == "candidate"
    assert served["uri"] == f"models:/{NAME}@candidate"
    assert registry.version_by_alias(NAME, "candidate") == served["version"]
    parent = store.client().get_run(summary["parent_run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["registered_version"] == served["version"]
    model = models.load_model(served["uri"])
    bundle = model.unwrap_python_model().bundle
    assert bundle["config"]["window"]["lookback"] == 12 and bundle["frequency"] == "monthly"
    assert bundle["interval"]["level"] == 0.95 and len(bundle["interval"]["half_widths"]) == HORIZON
    # A signature (history in, forecast with its interval out) and an input example, as the version page shows them.
    signature = model.metadata.signature
    assert [c.name for c in signature.inputs] == ["series_id", "timestamp", "value"]
    assert [c.name for c in signature.outputs] == ["series_id", "timestamp", "yhat", "lower", "upper"]
    assert model.metadata.saved_input_example_info is not None
    version = registry.version_info(NAME, served["version"])
    assert version["description"].startswith("gru forecaster of ")
    for key in ("subject", "data_content_hash", "horizon", "frequency", "holdout_mase"):
        assert version["tags"][key], key
    # The flow's preprocessing and every ensemble member travel with the model.
    assert bundle["preprocess"] == {"deseasonalise": "classical", "log": True, "level": "last"}
    assert bundle["ensemble"] == 2 and len(model.unwrap_python_model()._predicts) == 2
    _assert_same_forecast(model.predict(_history_frame(history)), flow_forecast)
    assert flow_forecast["lower"].lt(flow_forecast["yhat"]).all() and flow_forecast["upper"].gt(flow_forecast["yhat"]).all()


def test_served_a_request_stops_before_the_servers_timeout_and_says_how_many_series_fit(run, history, monkeypatch):
    # MLflow's scoring server sets MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT in the process it serves from
    # (seqflow serve-model sets it from --timeout): the model stops at 90 % of it, so the forecast does
    # not run on after the server has answered its bare 504.
    from mlflow.exceptions import MlflowException

    from tasks.tracking import models

    model = models.load_model(run[0]["served"]["uri"])
    frame = _history_frame(history)
    monkeypatch.setenv("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", "0")
    with pytest.raises(MlflowException) as caught:
        model.predict(frame)
    assert caught.value.error_code == "DEADLINE_EXCEEDED"
    assert caught.value.get_http_status_code() == 504
    assert "cannot be forecast within this server's 0 s request timeout: 0 were ready" in caught.value.message
    monkeypatch.setenv("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", "60")
    assert len(model.predict(frame)) == frame["series_id"].nunique() * HORIZON


def test_intervals_coverage_and_msis_are_logged(run):
    from tasks.tracking import store

    summary, _ = run
    model = summary["models"][0]
    for key in ("coverage", "msis", "interval_width", "fold1.coverage", "backtest_msis"):
        assert np.isfinite(model["metrics"][key]), key
    assert 0 <= model["metrics"]["coverage"] <= 1
    parent = store.client().get_run(summary["parent_run_id"])
    assert np.isfinite(parent.data.metrics["by_model.gru.msis"]) and "by_model.gru.coverage" in parent.data.metrics


def test_seqflow_predict_prints_the_forecast_and_writes_parquet(run, flow_forecast, history, tmp_path):
    from tasks import storage

    uri = run[0]["served"]["uri"]
    shown = CliRunner().invoke(app, ["predict", "--model", uri, "--input", str(history)])
    assert shown.exit_code == 0, shown.output
    assert "gru: next 6 monthly steps, 95% interval" in shown.stdout
    assert "north" in shown.stdout and "south" in shown.stdout
    written = CliRunner().invoke(app, ["predict", "--model", uri, "--input", str(history), "--output",
                                       str(tmp_path / "f.parquet")])
    assert written.exit_code == 0, written.output
    _assert_same_forecast(storage.read_frame(tmp_path / "f.parquet"), flow_forecast)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda rows: rows[:5] + rows[6:], "row 6, column 'timestamp': '2015-06': gap in the calendar"),
        (lambda rows: rows[:3] + ["north,2015-03,lots"] + rows[4:], "row 4, column 'value': 'lots': not a number"),
        (lambda rows: [rows[0].replace("timestamp", "when")] + rows[1:], "cannot tell which column holds the dates"),
        (lambda rows: rows[:20], "series 'north' has 19 values (rows 2-20); min_length=24 needs at least 24"),
    ],
)
def test_seqflow_predict_refuses_a_bad_history_in_one_line_exit_2(run, history, tmp_path, edit, message):
    rows = history.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(edit(rows)) + "\n")
    result = CliRunner().invoke(app, ["predict", "--model", run[0]["served"]["uri"], "--input", str(bad)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {bad}") and message in lines[0]


def test_seqflow_predict_names_a_missing_model(history):
    result = CliRunner().invoke(app, ["predict", "--model", "models:/no-such-model@candidate", "--input", str(history)])
    assert result.exit_code == 2
    assert "error: --model = 'models:/no-such-model@candidate': cannot load the model" in result.stderr


CALENDAR_NAME = "test-forecaster-calendar"


@pytest.fixture(scope="module")
def calendar_run(run):
    """The same run with calendar covariates on (monthly: month_of_year), registered under its own name."""
    _, shop = run
    extra = ["--set", "preprocess.calendar=auto", "--set", f"tracking.registered_model={CALENDAR_NAME}"]
    result = CliRunner().invoke(app, ["run", "forecast", "--source", "csv", "--path", str(shop), *SMALL, *extra,
                                      "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_with_calendar_covariates_the_served_model_and_seqflow_predict_equal_the_flows_forecast(
        calendar_run, history, tmp_path):
    """Global scope, an ensemble of two, two folds, intervals: the registered model reads the calendar of
    the history and of the months it continues it with, and forecasts what the flow forecast."""
    from tasks import storage
    from tasks.tracking import models, store

    summary = calendar_run
    out = storage.read_frame(Path(summary["forecasts_path"]))
    flow = out[(out["model"] == summary["served"]["cell"]) & (out["fold"] == 0)].sort_values(
        ["series_id", "horizon_step"], ignore_index=True)
    assert summary["served"]["uri"] == f"models:/{CALENDAR_NAME}@candidate"
    child = store.client().get_run(summary["models"][0]["run_id"])
    assert child.data.tags["calendar_features"] == "month_of_year"
    assert child.data.params["preprocess.calendar"] == "auto"
    model = models.load_model(summary["served"]["uri"])
    bundle = model.unwrap_python_model().bundle
    assert bundle["calendar"] == ["month_of_year"] and bundle["ensemble"] == 2
    assert model.unwrap_python_model()._models[0].input_shape == (None, 12 + HORIZON, 3)
    _assert_same_forecast(model.predict(_history_frame(history)), flow)
    written = CliRunner().invoke(app, ["predict", "--model", summary["served"]["uri"], "--input", str(history),
                                       "--output", str(tmp_path / "f.parquet")])
    assert written.exit_code == 0, written.output
    _assert_same_forecast(storage.read_frame(tmp_path / "f.parquet"), flow)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_mlflow_models_serve_returns_the_same_forecast(run, flow_forecast, history):
    from tasks.tracking import store

    mlflow_bin = Path(sys.executable).with_name("mlflow")
    port = _free_port()
    # The server runs `uvicorn` by name: the environment's bin folder must be on PATH.
    env = {**os.environ, "MLFLOW_TRACKING_URI": store.tracking_uri(),
           "PATH": f"{mlflow_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = subprocess.Popen(
        [str(mlflow_bin), "models", "serve", "-m", run[0]["served"]["uri"], "--env-manager", "local",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert server.poll() is None, server.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "mlflow models serve did not answer /ping within 90 s"
            time.sleep(1)
        frame = _history_frame(history)
        status, body = _post(f"http://127.0.0.1:{port}/invocations",
                             {"dataframe_split": frame.to_dict(orient="split", index=False)})
        assert status == 200, body
        _assert_same_forecast(pd.DataFrame(body["predictions"]), flow_forecast)
        gap = frame.drop(index=3)
        status, body = _post(f"http://127.0.0.1:{port}/invocations",
                             {"dataframe_split": gap.to_dict(orient="split", index=False)})
        assert status == 400
        assert "input, row 4, column 'timestamp': '2015-05': gap in the calendar" in body["message"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux: /proc/<pid>/task/*/children), however deep."""
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += sorted(children - found)
            found |= children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_seqflow_serve_model_answers_without_the_venv_on_path_refuses_large_requests_and_stops_on_sigterm(
        run, flow_forecast, history):
    """The README's serving command from a shell that never activated the environment: the environment's
    bin is not on PATH (where `mlflow models serve` exits 127, "uvicorn: not found")."""
    seqflow_bin = Path(sys.executable).with_name("seqflow")
    bin_dir = str(seqflow_bin.parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != bin_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MLFLOW_TRACKING_URI")}
    port = _free_port()
    server = subprocess.Popen(
        [str(seqflow_bin), "serve-model", "--model", run[0]["served"]["uri"], "--port", str(port),
         "--max-request-mb", "1"],
        env={**env, "PATH": path}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert server.poll() is None, server.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "seqflow serve-model did not answer /ping within 120 s"
            time.sleep(1)
        frame = _history_frame(history)
        status, body = _post(f"{url}/invocations", {"dataframe_split": frame.to_dict(orient="split", index=False)})
        assert status == 200, body
        _assert_same_forecast(pd.DataFrame(body["predictions"]), flow_forecast)
        # One row: the refusal says what to send, not a Python argument.
        status, body = _post(f"{url}/invocations", {"dataframe_split": frame.head(1).to_dict(orient="split", index=False)})
        assert status == 400
        assert body["message"].startswith("input, row 1, column 'value': series 'north' has 1 value (rows 1-1)")
        assert "consecutive monthly rows per series, as columns series_id, timestamp, value" in body["message"]
        assert "frequency=" not in body["message"] and "\n" not in body["message"]
        # A body over --max-request-mb is refused at once, and the server still answers afterwards.
        big = {"dataframe_split": {"columns": ["series_id", "timestamp", "value"],
                                   "data": [["north", "2015-01", 1.0]] * 60_000}}
        started = time.monotonic()
        status, body = _post(f"{url}/invocations", big)
        took = time.monotonic() - started
        assert status == 413 and body["error_code"] == "REQUEST_TOO_LARGE", body
        assert "is over this server's limit of 1,048,576 bytes" in body["message"]
        assert took < 5, f"the 413 took {took:.1f} s"
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as r:
            assert r.status == 200
        below = _descendants(server.pid)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, server.stderr.read()[-3000:]
        assert "stopped serving" in server.stderr.read()
        survivors = [pid for pid in below if _alive(pid)]
        assert not survivors, f"children of the server alive after SIGTERM: {survivors}"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)


def test_seqflow_serve_model_names_a_missing_model_and_a_taken_port():
    missing = CliRunner().invoke(app, ["serve-model", "--model", "models:/no-such-model@candidate",
                                       "--port", str(_free_port())])
    assert missing.exit_code == 2
    assert "error: --model = 'models:/no-such-model@candidate': cannot load the model" in missing.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve-model", "--model", "models:/no-such-model@candidate",
                                          "--port", str(port)])
    assert result.exit_code == 2
    assert f"error: --port = {port}: 127.0.0.1:{port} is taken by another process" in result.stderr


def test_seqflow_predict_json_prints_the_model_and_the_forecast_rows(run, flow_forecast, history, tmp_path):
    uri = run[0]["served"]["uri"]
    shown = CliRunner().invoke(app, ["predict", "--model", uri, "--input", str(history), "--json"])
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert {k: record[k] for k in ("model_uri", "cell", "horizon", "frequency", "interval_level", "n_series")} == {
        "model_uri": uri, "cell": "gru", "horizon": HORIZON, "frequency": "monthly", "interval_level": 0.95,
        "n_series": 2}
    assert record["rows"] == len(record["forecast"]) == 2 * HORIZON
    _assert_same_forecast(pd.DataFrame(record["forecast"]), flow_forecast)
    written = CliRunner().invoke(app, ["predict", "--model", uri, "--input", str(history), "--output",
                                       str(tmp_path / "f.csv"), "--json"])
    assert written.exit_code == 0, written.output
    assert json.loads(written.stdout)["output"] == str(tmp_path / "f.csv") and "forecast" not in json.loads(written.stdout)


def test_the_forecast_flow_run_is_named_tagged_linked_and_shows_its_ranking(run):
    """Prefect's view of the run: read back through its API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    summary, _ = run
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(summary["flow_run_id"])
        found = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[summary["flow_run_id"]])))}
    assert flow_run.name.startswith("forecast-shop-")
    assert {"flow:forecast", "subject:shop", "cells:gru"} <= set(flow_run.tags)
    assert f"/runs/{summary['parent_run_id']}" in found["forecast-shop-mlflow-run"].data
    rows = found["forecast-shop-ranking"].data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert [(r["rank"], r["forecaster"], r["kind"]) for r in rows] == [
        (r["rank"], r["forecaster"], r["kind"]) for r in summary["ranking"]]
    assert rows[0]["mase"] == float(f"{summary['ranking'][0]['mase']:.4g}")
