"""A sweep killed (SIGKILL) after its first point finished: the same command again reuses that point's run
and score, trains only the rest, and ranks all. The CLI runs in its own process group, stopped by its
pid also when the test fails."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.flows.test_process_faults import _env, _runs
from tests.flows.test_sweep_flow import _sweep

pytestmark = pytest.mark.slow


def _forecast_runs(root: Path) -> dict:
    """The forecast flows' own runs (a point each), by id; not the model runs nested under them."""
    found = _runs(root)
    forecast = {r.info.run_id for r in found if r.data.tags.get("seqflow.flow") == "forecast"}
    return {r.info.run_id: r for r in found if r.info.run_id in forecast
            and r.data.tags.get("mlflow.parentRunId") not in forecast}


def _point_runs(root: Path, number: int, status: str | None = None) -> list:
    return [r for r in _runs(root) if r.data.tags.get("seqflow.sweep.point") == str(number)
            and r.data.tags.get("seqflow.flow") == "forecast" and status in (None, r.info.status)]


def test_a_killed_sweep_resumes_with_only_its_unfinished_points(tmp_path):
    from tasks.tracking import runs

    root = tmp_path / "artifacts"
    # The second point trains long enough (60 epochs, no early stop) to be killed while it trains.
    sweep = _sweep(tmp_path, '"train.epochs" = [2, 60]')
    base = tmp_path / "base.toml"
    base.write_text(base.read_text().replace("epochs = 2\n", "epochs = 2\npatience = 100\n"))
    command = [sys.executable, "-m", "flows.cli", "run", "sweep", "--config", str(sweep), "--best",
               str(tmp_path / "best.toml"), "--json"]
    first = subprocess.Popen(command, env=_env(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        # Killed once the first point finished and the second one's run is open (it trains).
        while not (_point_runs(root, 1, "FINISHED")
                   and [r for r in _forecast_runs(root).values() if r.info.status == "RUNNING"]):
            assert first.poll() is None, f"the sweep ended (exit {first.returncode}) before the second point began"
            assert time.monotonic() < deadline, "the second point did not begin in 10 minutes"
            time.sleep(0.25)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(first.pid, signal.SIGKILL)
    finished = _point_runs(root, 1, "FINISHED")
    assert len(finished) == 1 and not _point_runs(root, 2, "FINISHED"), "killed after the second point finished"
    killed_sweep = next(r for r in _runs(root) if r.data.tags.get("seqflow.flow") == "sweep")
    forecast_runs_before = set(_forecast_runs(root))

    second = subprocess.run(command, env=_env(root), capture_output=True, text=True, timeout=900,
                            start_new_session=True)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout)
    one, two = summary["points"]
    assert one["reused"] and one["run_id"] == finished[0].info.run_id
    assert one["score"] == pytest.approx(finished[0].data.metrics["sweep.mase"], rel=0, abs=0)
    assert not two["reused"] and two["run_id"] not in forecast_runs_before
    assert sorted(summary["ranked"]) == [1, 2] and all(p["rank"] for p in summary["points"])
    # Only the unfinished point trained again: one new forecast run, none for the first point.
    after = _forecast_runs(root)
    assert set(after) - forecast_runs_before == {two["run_id"]}
    assert len(_point_runs(root, 1, "FINISHED")) == 1
    # Both points nested under the new sweep run; the killed runs closed as KILLED by the second invocation.
    assert {after[p["run_id"]].data.tags[runs.MLFLOW_PARENT_RUN_ID] for p in (one, two)} == {summary["sweep_run_id"]}
    statuses = {r.info.run_id: r.info.status for r in _runs(root)}
    assert statuses[killed_sweep.info.run_id] == "KILLED"
    assert statuses[summary["sweep_run_id"]] == "FINISHED"
    assert [statuses[r] for r in forecast_runs_before - {one["run_id"]}] == ["KILLED"]
