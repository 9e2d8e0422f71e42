"""`seqflow run sweep --runner dask`: the points fan out to a real local Dask cluster (``dask_cluster`` of
tests/flows/conftest.py, closed also on failure) and score exactly what they score serially; the options
are checked first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.flows.test_sweep_flow import _sweep


def _plan_for(folder: Path, experiment: str) -> Path:
    sweep = _sweep(folder, '"model.units" = [4, 8]')
    base = folder / "base.toml"
    base.write_text(base.read_text().replace('experiment = "sweep-e2e"', f'experiment = "{experiment}"'))
    return sweep


@pytest.mark.parametrize(("args", "said"), [
    (["--runner", "ray"], "--runner ray: not one of serial, dask"),
    (["--address", "tcp://127.0.0.1:8786"], "--address tcp://127.0.0.1:8786: only with --runner dask"),
    (["--runner", "dask", "--address", "127.0.0.1:8786"], "must be a Dask scheduler's tcp://HOST:PORT"),
    (["--runner", "dask", "--address", "tcp://127.0.0.1"], "must be a Dask scheduler's tcp://HOST:PORT"),
    (["--runner", "dask", "--workers", "0"], "--workers 0: must be at least 1"),
])
def test_bad_runner_options_are_refused_before_anything_starts(tmp_path, args, said):
    result = CliRunner().invoke(app, ["run", "sweep", "--config", str(_plan_for(tmp_path, "refused")),
                                      "--best", str(tmp_path / "best.toml"), *args])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())




@pytest.mark.slow
def test_each_point_scores_the_same_serially_and_on_a_local_dask_cluster(swept, dask_cluster, tmp_path):
    from tasks.tracking import runs, store

    serial, _ = swept  # the same grid and base, run serially in this session's store
    plan = _plan_for(tmp_path, "sweep-dask")
    # Trained afresh: with resume on, the points would reuse the networks the serial sweep kept for the same inputs.
    base = tmp_path / "base.toml"
    base.write_text(base.read_text().replace("epochs = 2\n", "epochs = 2\nresume = false\n"))
    result = CliRunner().invoke(app, ["run", "sweep", "--config", str(plan), "--best", str(tmp_path / "best.toml"),
                                      "--json", "--runner", "dask", "--address", dask_cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    on_dask = json.loads(result.stdout)
    assert on_dask["runner"] == "dask" and serial["runner"] == "serial"
    assert [p["values"] for p in on_dask["points"]] == [p["values"] for p in serial["points"]]
    # Bit for bit: the same seed, data and config give the same network wherever it trained.
    assert [p["score"] for p in on_dask["points"]] == [p["score"] for p in serial["points"]]
    assert on_dask["ranked"] == serial["ranked"]
    client = store.client()
    assert client.get_run(on_dask["sweep_run_id"]).info.status == "FINISHED"
    pids = set()
    for point in on_dask["points"]:
        run = client.get_run(point["run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.tags[runs.MLFLOW_PARENT_RUN_ID] == on_dask["sweep_run_id"]
        pids.add(run.data.tags[runs.OWNER_PID])
        nested = f"tags.`{runs.MLFLOW_PARENT_RUN_ID}` = '{run.info.run_id}'"
        models = client.search_runs([on_dask["experiment_id"]], nested)
        assert [m.data.metrics["networks_reused"] for m in models] == [0]
    # The points trained in the cluster's worker processes, not in this one.
    from distributed import Client

    with Client(dask_cluster) as dask:
        workers = {str(pid) for pid in dask.run(os.getpid).values()}
    assert pids and pids <= workers and str(os.getpid()) not in pids
