"""A forecast run killed with SIGKILL mid-training resumes when the same command runs again.

The first model (gru) is finished and logged when the kill lands; the second (lstm) has backed up
some epochs. The second run must reuse the gru without training it, resume the lstm at its saved
epoch, and end with the very metrics and weights of an uninterrupted run in a fresh store. Every
process the test starts is stopped by its pid (its process group), also when the test fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.flows.test_process_faults import _env, _runs, _stop

pytestmark = pytest.mark.slow

EPOCHS = 100  # a tiny network on the shipped alcohol sales: the lstm trains for several seconds
COMMAND = ["run", "forecast", "--horizon", "6", "--set", "window.lookback=12", "--set", "model.units=4",
           "--set", "model.recipe=manual", "--set", "model.cells=gru,lstm", "--set", f"train.epochs={EPOCHS}",
           "--set", "train.backup_seconds=0",
           "--set", f"train.patience={EPOCHS}", "--set", "train.progress=false", "--set", "evaluate.baselines=naive",
           "--json"]


TIMINGS = {"fit_seconds", "train_samples_per_second"}  # how long it took, not what it computed


def _start(root: Path, started: list[int]) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "flows.cli", *COMMAND], env=_env(root), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    started.append(process.pid)
    return process


def _run(root: Path, started: list[int]) -> tuple[dict, float]:
    """Run the command to its end: its JSON summary and its wall time in seconds."""
    began = time.monotonic()
    process = _start(root, started)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, (out + err)[-3000:]
    return json.loads(out), time.monotonic() - began


def _saved_epochs(root: Path, stem: str) -> int:
    folders = sorted((root / "training-backups").glob(f"*-{stem}/epoch-*"))
    return int(folders[-1].name.removeprefix("epoch-")) if folders else 0


def _weights(path: str) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(path, compile=False).get_weights()


def test_a_killed_forecast_run_reuses_its_finished_model_and_resumes_the_interrupted_one(tmp_path):
    root, fresh = tmp_path / "killed", tmp_path / "uninterrupted"
    started: list[int] = []
    try:
        victim = _start(root, started)
        deadline = time.monotonic() + 300
        # Kill once the gru is finished and logged and the lstm has backed up a few epochs. Reading the
        # store takes a while on a busy machine; the backup folder is watched alone once the gru is done.
        while not any(r.info.run_name.startswith("gru") and r.info.status == "FINISHED" for r in _runs(root)):
            assert victim.poll() is None, victim.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the gru never finished"
            time.sleep(0.3)
        while _saved_epochs(root, "lstm") < 10:
            assert victim.poll() is None, victim.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the lstm never backed up 10 epochs"
            time.sleep(0.05)
        _stop(victim.pid)
        victim.wait(timeout=30)
        saved = _saved_epochs(root, "lstm")
        assert 10 <= saved < EPOCHS, saved
        killed = {r.info.run_name.split(" ")[0]: r for r in _runs(root) if "mlflow.parentRunId" in r.data.tags}
        assert killed["gru"].info.status == "FINISHED" and killed["lstm"].info.status == "RUNNING"

        again, resumed_wall = _run(root, started)
        runs = {r.info.run_id: r for r in _runs(root)}
        new = {m["cell"]: runs[m["run_id"]] for m in again["models"]}

        # The finished gru: not trained again; its record names the killed run that trained it.
        gru = new["gru"].data
        assert gru.tags["reused_from_run"] == killed["gru"].info.run_id
        assert gru.metrics["networks_reused"] == 1 and gru.metrics["epochs_trained"] == 0
        assert gru.metrics["mase"] == killed["gru"].data.metrics["mase"]
        # The lstm: resumed at its saved epoch, only the rest trained.
        lstm = new["lstm"].data
        assert "reused_from_run" not in lstm.tags
        assert lstm.metrics["resumed_from_epoch"] == saved
        assert lstm.metrics["epochs_trained"] == EPOCHS - saved
        assert lstm.metrics["epochs_run"] == EPOCHS
        assert not list((root / "training-backups").glob("*/epoch-*"))  # a finished training deletes its backup
        assert runs[killed["lstm"].info.run_id].info.status == "KILLED"  # reconciled by the second run

        whole, whole_wall = _run(fresh, started)
        plain = {r.info.run_id: r for r in _runs(fresh)}
        for a, b in zip(sorted(again["models"], key=lambda m: m["cell"]), sorted(whole["models"], key=lambda m: m["cell"]),
                        strict=True):
            assert a["cell"] == b["cell"]
            assert {k: v for k, v in a["metrics"].items() if k not in TIMINGS} == \
                {k: v for k, v in b["metrics"].items() if k not in TIMINGS}, a["cell"]
            for x, y in zip(_weights(a["model_path"]), _weights(b["model_path"]), strict=True):
                np.testing.assert_array_equal(x, y)
        fresh_epochs = int(sum(plain[m["run_id"]].data.metrics["epochs_trained"] for m in whole["models"]))
        assert fresh_epochs == 2 * EPOCHS
        print(f"\nresume figures: killed after lstm epoch {saved} of {EPOCHS}; "
              f"resumed run trained {EPOCHS - saved} epochs (gru reused, lstm {EPOCHS - saved}) in {resumed_wall:.1f} s "
              f"wall; uninterrupted run trained {fresh_epochs} epochs in {whole_wall:.1f} s wall")
    finally:
        for pid in started:
            _stop(pid)
