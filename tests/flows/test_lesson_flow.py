"""End to end: `seqflow run lesson` under a temporary Prefect server and MLflow store, tiny settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from flows.cli import app

TINY = [
    "--set", "sweep.lengths=4,6",
    "--set", "sweep.seeds=1",
    "--set", "model.cells=lstm,rnn",
    "--set", "model.units=4",
    "--set", "task.n_train=64",
    "--set", "task.n_validation=16",
    "--set", "task.n_test=32",
    "--set", "gradients.batch=16",
    "--set", "train.epochs=2",
    "--set", "train.progress=false",
    "--set", "tracking.experiment=lesson-e2e",
]


def _run(args):
    return CliRunner().invoke(app, args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "sweep.lengths=1"], "sweep.lengths = 1: length 1: must be between 2 and 10,000 steps"),
        (["--set", "task.kind=sum"], "task.kind = 'sum': Input should be 'adding' or 'copy'"),
        (["--set", "gradients.batch=5000"], "gradients.batch = 5000 is more than the 1000 test sequences"),
        (["--set", "model.cells=lstm,bogus"], "unknown cell 'bogus'; valid cells: rnn, lstm, gru, manual_rnn"),
        (["--config", "no-such.toml"], "--config no-such.toml: no such file"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    result = _run(["run", "lesson", *args])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: config: ") and message in lines[0]


@pytest.fixture(scope="module")
def lesson(prefect_harness):
    result = _run(["run", "lesson", *TINY, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_summary_has_every_trial_row_and_baseline(lesson):
    assert lesson["task"] == "adding"
    assert [(t["length"], t["cell"], t["seed"]) for t in lesson["trials"]] == [
        (4, "lstm", 1), (4, "rnn", 1), (6, "lstm", 1), (6, "rnn", 1)]
    for trial in lesson["trials"]:
        assert trial["failure"] is None
        assert np.isfinite(trial["metrics"]["test_mse"])
        assert len(trial["init_norms"]) == len(trial["trained_norms"]) == trial["length"]
        assert len(trial["ratio_by_epoch"]) == 3  # at initialisation, after epochs 1 and 2
    assert [(r["length"], r["cell"]) for r in lesson["rows"]] == [(4, "lstm"), (4, "rnn"), (6, "lstm"), (6, "rnn")]
    assert [b["length"] for b in lesson["baselines"]] == [4, 6]
    assert all(b["closed_form"] == pytest.approx(1 / 6) for b in lesson["baselines"])
    assert lesson["parent_run_name"].startswith("lesson · adding · ")


@pytest.mark.slow
def test_the_baseline_is_computed_from_the_stored_data(lesson):
    from tasks import storage
    from tasks.lesson.memory import MemoryData, no_memory_mse

    for data, baseline in zip(lesson["data"], lesson["baselines"]):
        stored = MemoryData.from_arrays(storage.read_arrays(Path(data["path"])).arrays)
        assert stored.x.shape == (64 + 16 + 32, data["length"], 2)
        assert baseline["measured"] == pytest.approx(no_memory_mse(stored.part("train")[1], stored.part("test")[1]))


@pytest.mark.slow
def test_mlflow_holds_parent_children_metrics_and_figures(lesson):
    from tasks.tracking import store

    client = store.client()
    parent = client.get_run(lesson["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.params["sweep.lengths"] == "4,6"
    assert parent.data.tags["seqflow.flow"] == "lesson"
    assert [m.step for m in client.get_metric_history(parent.info.run_id, "no_memory_mse")] == [4, 6]
    assert [m.step for m in client.get_metric_history(parent.info.run_id, "lstm.test_mse_mean")] == [4, 6]
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert plots == {"plots/test_mse_by_length.png", "plots/gradient_norms_by_cell.png",
                     "plots/gradient_ratio_by_epoch.png"}
    for trial in lesson["trials"]:
        child = client.get_run(trial["run_id"])
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.run_name == f"{trial['cell']} · adding L{trial['length']} · seed 1"
        assert (child.data.params["cell"], child.data.params["length"]) == (trial["cell"], str(trial["length"]))
        history = client.get_metric_history(child.info.run_id, "gradient_first_to_last_by_epoch")
        assert [m.step for m in history] == [0, 1, 2]
        norms = client.get_metric_history(child.info.run_id, "gradient_norm_init")
        assert [m.step for m in norms] == list(range(trial["length"]))
        assert child.data.metrics["test_mse"] == pytest.approx(trial["metrics"]["test_mse"])
        assert {a.path for a in client.list_artifacts(child.info.run_id, "plots")} == {"plots/gradient_norms.png"}


@pytest.mark.slow
def test_a_rerun_reuses_the_stored_sequences_and_prints_the_table(lesson):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    again = _run(["run", "lesson", *TINY, "--set", "sweep.lengths=4", "--set", "model.cells=gru"])
    assert again.exit_code == 0, again.output
    assert "adding problem: test MSE and first-to-last gradient ratio" in again.stdout
    assert "gru" in again.stdout
    assert "no memory (predict the mean): 0.1667 in closed form; on each length's test data L4" in again.stdout
    with get_client(sync_client=True) as client:
        latest = client.read_flow_runs(sort="START_TIME_DESC", limit=1)[0]
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[latest.id])))
    states = {run.name.rsplit("-", 1)[0]: run.state.name for run in task_runs}
    assert states["synthesize-task"] == "Cached"
    assert states["train-trial"] == "Completed"
