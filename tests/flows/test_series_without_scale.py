"""End to end: a long CSV in which one series is constant and one repeats itself exactly, beside normal ones.

Such a series has no MASE scale (its seasonal-naive error before the origin is 0). The run still
succeeds: the other series are scored as before, the two are reported by name on the console and
on the parent run, their MASE and MSIS are NaN and left out of the means (issue 23: the run crashed
with ZeroDivisionError after training, every series' work lost).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app

pytestmark = pytest.mark.slow

HORIZON = 6


def _write(path: Path) -> Path:
    rows = ["shop,month,units"]
    months = pd.date_range("2015-01-01", periods=48, freq="MS")
    t = np.arange(48)
    series = {
        "north": 200.0 + 2.0 * t + 30 * np.sin(2 * np.pi * t / 12),
        "south": 250.0 + 1.5 * t + 20 * np.cos(2 * np.pi * t / 12),
        "flat": np.full(48, 75.0),
        "cycle": np.tile([5.0, 7.0, 9.0, 6.0, 4.0, 3.0, 8.0, 10.0, 12.0, 11.0, 6.0, 5.0], 4),
    }
    for sid, values in series.items():
        rows += [f"{sid},{m:%Y-%m},{v:.2f}" for m, v in zip(months, values)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_series_without_scale_are_reported_and_the_others_scored(prefect_harness, tmp_path):
    from tasks import storage
    from tasks.tracking import store

    path = _write(tmp_path / "shops.csv")
    result = CliRunner().invoke(app, [
        "run", "forecast", "--source", "csv", "--path", str(path), "--horizon", str(HORIZON),
        "--set", "source.id_column=shop", "--set", "window.lookback=12", "--set", "model.units=4",
        "--set", "model.recipe=manual", "--set", "model.cells=gru", "--set", "train.epochs=2", "--set", "train.progress=false",
        "--set", "evaluate.baselines=naive,naive2", "--set", "tracking.log_models=false",
        "--set", "tracking.experiment=e2e-unscaled"])
    assert result.exit_code == 0, result.output
    said = [line for line in result.stdout.splitlines() if line.startswith("not scaled:")]
    assert said == [
        "not scaled: series 'cycle' (origin 42): its values before the origin repeat exactly every 12 steps "
        "(seasonal-naive MAE 0); its MASE and MSIS are NaN, left out of the means over series, and it has no "
        "interval",
        "not scaled: series 'flat' (origin 42): its values before the origin are constant "
        "(seasonal-naive MAE 0); its MASE and MSIS are NaN, left out of the means over series, and it has no "
        "interval",
    ]
    client = store.client()
    experiment = client.get_experiment_by_name("e2e-unscaled")
    (parent,) = [r for r in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["unscaled_series"] == "cycle,flat"
    assert parent.data.metrics["n_unscaled_series"] == 2
    for name in ("gru", "naive", "naive2"):
        assert np.isfinite(parent.data.metrics[f"by_model.{name}.mase"]), name
    assert np.isfinite(parent.data.metrics["by_model.gru.msis"]) and np.isfinite(parent.data.metrics["by_model.gru.coverage"])

    scores = storage.read_frame(Path(parent.data.tags["mlflow.seqflow.scores_path"]))
    unscaled = scores["series_id"].isin(["flat", "cycle"])
    assert scores[unscaled]["mase"].isna().all() and scores[~unscaled]["mase"].notna().all()
    assert scores[unscaled]["smape"].notna().all()  # the scale-free metrics are still there
    naive2 = scores[(scores["model"] == "naive2") & ~unscaled]["mase"].mean()
    assert parent.data.metrics["by_model.naive2.mase"] == pytest.approx(naive2)
    forecasts = storage.read_frame(Path(parent.data.tags["mlflow.seqflow.forecasts_path"]))
    gru = forecasts[forecasts["model"] == "gru"]
    assert gru[gru["series_id"].isin(["flat", "cycle"])][["lower", "upper"]].isna().all().all()
    assert gru[gru["series_id"].isin(["north", "south"])][["lower", "upper"]].notna().all().all()
