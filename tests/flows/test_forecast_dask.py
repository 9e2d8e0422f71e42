"""`seqflow run forecast --runner dask`: one run's training units (here its two ensemble members) train on
a real local Dask cluster (``dask_cluster`` of tests/flows/conftest.py, closed also on failure), and the run
forecasts, scores and serves exactly what the serial run does; the runner options are checked first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks import paths

# Timings differ from run to run; everything else a model's run reports must be equal.
TIMINGS = {"fit_seconds", "train_samples_per_second"}


def _preset(folder: Path, experiment: str) -> Path:
    milk = paths.PROJECT_ROOT / "data" / "monthly-milk.csv"
    preset = folder / "preset.toml"
    preset.write_text(f"""seed = 11
[source]
kind = "csv"
path = {json.dumps(str(milk))}
[window]
lookback = 12
horizon = 12
[model]
recipe = "manual"
cells = ["gru"]
units = 4
ensemble = 2
[train]
epochs = 2
progress = false
threads = 1
[evaluate]
folds = 1
baselines = ["naive", "seasonal_naive"]
[tracking]
experiment = "{experiment}"
""")
    return preset


@pytest.mark.parametrize(("args", "said"), [
    (["--runner", "ray"], "--runner ray: not one of serial, dask"),
    (["--address", "tcp://127.0.0.1:8786"], "--address tcp://127.0.0.1:8786: only with --runner dask"),
    (["--runner", "dask", "--address", "127.0.0.1:8786"], "must be a Dask scheduler's tcp://HOST:PORT"),
    (["--runner", "dask", "--workers", "0"], "--workers 0: must be at least 1"),
])
def test_bad_runner_options_are_refused_before_anything_starts(tmp_path, args, said):
    result = CliRunner().invoke(app, ["run", "forecast", "--config", str(_preset(tmp_path, "refused")), *args])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())


def _forecast(folder: Path, experiment: str, *runner: str) -> dict:
    folder.mkdir()
    result = CliRunner().invoke(app, ["run", "forecast", "--config", str(_preset(folder, experiment)), "--json",
                                      *runner])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _executed(cluster) -> int:
    """Tasks the cluster's workers have run so far."""
    from distributed import Client

    with Client(cluster) as client:
        return sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())


@pytest.mark.slow
def test_a_forecast_on_a_local_dask_cluster_is_the_serial_run_bit_for_bit(prefect_harness, dask_cluster, tmp_path):
    from tasks.tracking import runs, store

    serial = _forecast(tmp_path / "serial", "forecast-serial")
    # The networks are kept by their inputs, not by the experiment: without this the Dask run would reuse
    # the serial run's networks instead of training its own.
    kept = Path(serial["models"][0]["model_path"]).parent
    assert kept.is_dir()
    shutil.rmtree(kept)
    before = _executed(dask_cluster)
    on_dask = _forecast(tmp_path / "dask", "forecast-dask", "--runner", "dask", "--address",
                        dask_cluster.scheduler_address)
    # One train-unit task per ensemble member ran on the workers.
    assert _executed(dask_cluster) - before >= 2
    assert on_dask["ranking"] == serial["ranking"]
    assert on_dask["backtest"] == serial["backtest"]
    assert on_dask["served"]["cell"] == serial["served"]["cell"] == "gru"
    for fast, slow in zip(on_dask["models"], serial["models"], strict=True):
        assert fast["failure"] is None and fast["cell"] == slow["cell"]
        assert {k: v for k, v in fast["metrics"].items() if k not in TIMINGS} == \
            {k: v for k, v in slow["metrics"].items() if k not in TIMINGS}
        assert fast["half_widths"] == slow["half_widths"]
        pd.testing.assert_frame_equal(pd.read_parquet(fast["forecasts_path"]).drop(columns="run_id", errors="ignore"),
                                      pd.read_parquet(slow["forecasts_path"]).drop(columns="run_id", errors="ignore"),
                                      check_exact=True)
    client = store.client()
    assert client.get_run(on_dask["parent_run_id"]).info.status == "FINISHED"
    children = client.search_runs([on_dask["experiment_id"]],
                                  f"tags.{runs.MLFLOW_PARENT_RUN_ID} = '{on_dask['parent_run_id']}'")
    assert children and all(run.info.status == "FINISHED" for run in children)
    trained = next(run for run in children if run.info.run_id == on_dask["models"][0]["run_id"])
    # Trained afresh on the workers (none reused), every epoch's curve logged on the child run as serially.
    assert trained.data.metrics["networks"] == 2 and trained.data.metrics["networks_reused"] == 0
    assert trained.data.metrics["epochs_trained"] == 4
    assert [m.value for m in client.get_metric_history(trained.info.run_id, "val_loss")] == \
        [m.value for m in client.get_metric_history(serial["models"][0]["run_id"], "val_loss")]
