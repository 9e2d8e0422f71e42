"""Two processes on one store at once: a sweep fanned out to a local Dask cluster and a one-off forecast run,
started together with the same SEQFLOW_ARTIFACTS and the same experiment, reading the same series. Both exit
0 and every run they open ends FINISHED with every metric it carries when it runs alone. Both processes run
in their own process groups (the cluster's workers with them), stopped by their pids also when the test fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tasks import paths
from tests.flows.test_process_faults import TINY, _env, _runs, _stop
from tests.flows.test_sweep_dask import _plan_for

pytestmark = pytest.mark.slow

EXPERIMENT = "concurrent"
EPOCHS = 2  # the sweep's base preset trains this many (patience 8: never stopped early)


def _start(root: Path, out: Path, *args: str) -> subprocess.Popen:
    with open(out.with_suffix(".out"), "w") as stdout, open(out.with_suffix(".err"), "w") as stderr:
        return subprocess.Popen([sys.executable, "-m", "flows.cli", *args], env=_env(root), stdout=stdout,
                                stderr=stderr, start_new_session=True)


def _finished(process: subprocess.Popen, out: Path) -> dict:
    process.wait(timeout=600)
    assert process.returncode == 0, out.with_suffix(".err").read_text()[-3000:]
    return json.loads(out.with_suffix(".out").read_text())


def _history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def _check_forecast_run(client, run, forecasters: set[str], by_parent: dict) -> None:
    """A forecast flow's run: a score per forecaster, and each network's run with every epoch's losses."""
    metrics = run.data.metrics
    assert {"mase", "smape", "rmse", "mae", "run_seconds"} <= set(metrics), run.info.run_name
    assert {f"by_model.{f}.mase" for f in forecasters} <= set(metrics), run.info.run_name
    models = by_parent[run.info.run_id]
    assert models, f"{run.info.run_name}: no model run nested under it"
    for model in models:
        assert model.data.metrics["epochs_run"] == EPOCHS, model.info.run_name
        assert {"mase", "smape", "best_epoch", "fit_seconds"} <= set(model.data.metrics), model.info.run_name
        for key in ("loss", "val_loss"):
            assert [step for step, _ in _history(client, model.info.run_id, key)] == list(range(EPOCHS)), key


def test_a_dask_sweep_and_a_one_off_run_on_one_store_at_once_finish_every_run_with_every_metric(tmp_path):
    from mlflow.tracking import MlflowClient

    from tasks.tracking import runs

    root = tmp_path / "artifacts"
    plan = _plan_for(tmp_path, EXPERIMENT)  # two points of the milk series (units 4 and 8)
    milk = paths.PROJECT_ROOT / "data" / "monthly-milk.csv"
    started: list[subprocess.Popen] = []
    try:
        started.append(_start(root, tmp_path / "sweep", "run", "sweep", "--config", str(plan), "--best",
                              str(tmp_path / "best.toml"), "--runner", "dask", "--workers", "2", "--json"))
        started.append(_start(root, tmp_path / "forecast", "run", "forecast", "--path", str(milk), *TINY,
                              "--set", "model.recipe=manual", "--set", f"train.epochs={EPOCHS}",
                              "--set", f"tracking.experiment={EXPERIMENT}", "--json"))
        sweep = _finished(started[0], tmp_path / "sweep")
        one_off = _finished(started[1], tmp_path / "forecast")
    finally:
        for process in started:
            _stop(process.pid)

    # The cluster's workers report to the sweep's own temporary Prefect server, not to one each of their own.
    # (seqflow starts the sweep's own server without that line; a worker starting its own logs it).
    assert "Starting temporary server" not in (tmp_path / "sweep.err").read_text()

    found = _runs(root)
    assert found and {r.info.status for r in found} == {"FINISHED"}, [(r.info.run_name, r.info.status) for r in found]
    by_parent: dict[str, list] = {}
    for run in found:
        by_parent.setdefault(run.data.tags.get(runs.MLFLOW_PARENT_RUN_ID), []).append(run)
    by_id = {r.info.run_id: r for r in found}
    client = MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")

    # The sweep: both points ranked, each score on its point's run and in the sweep run's history.
    assert sweep["runner"] == "dask" and sorted(sweep["ranked"]) == [1, 2]
    scores = {p["number"]: p["score"] for p in sweep["points"]}
    sweep_run = by_id[sweep["sweep_run_id"]]
    assert sweep_run.data.metrics["best.mase"] == min(scores.values())
    assert _history(client, sweep_run.info.run_id, "point.mase") == sorted(scores.items())
    assert {r.info.run_id for r in by_parent[sweep_run.info.run_id]} == {p["run_id"] for p in sweep["points"]}
    for point in sweep["points"]:
        run = by_id[point["run_id"]]
        assert run.data.metrics["sweep.mase"] == point["score"]
        _check_forecast_run(client, run, {"gru", "naive", "seasonal_naive"}, by_parent)

    # The one-off run: every forecaster of its ranking scored on its run, its model runs whole.
    run = by_id[one_off["parent_run_id"]]
    assert runs.MLFLOW_PARENT_RUN_ID not in run.data.tags and run.data.tags["seqflow.flow"] == "forecast"
    _check_forecast_run(client, run, {row["forecaster"] for row in one_off["ranking"]}, by_parent)
    for row in one_off["ranking"]:
        assert run.data.metrics[f"by_model.{row['forecaster']}.mase"] == pytest.approx(row["mase"])
    assert {m.info.run_id for m in by_parent[run.info.run_id]} == {m["run_id"] for m in one_off["models"]}

    # Nothing else: the sweep's run, its points and their networks, the one-off run and its networks.
    assert len(found) == 1 + 2 * len(sweep["points"]) + 1 + len(one_off["models"])
    assert {r.info.experiment_id for r in found} == {sweep["experiment_id"]} == {one_off["experiment_id"]}
