"""`seqflow bench` stays the speed bench; `seqflow bench forecast` is the accuracy bench beside it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows import bench, bench_forecast
from flows.cli import app


def test_bench_alone_still_runs_the_speed_bench(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run_bench", lambda overrides, repeats, console: calls.append((overrides, repeats)))
    result = CliRunner().invoke(app, ["bench", "--repeats", "2", "--set", "model.cells=rnn"])
    assert result.exit_code == 0, result.output
    assert calls == [(["model.cells=rnn"], 2)]


def test_bench_forecast_runs_the_accuracy_bench(monkeypatch):
    calls = []

    def fake(console, workers, datasets, m4, flow):
        calls.append((workers, datasets, m4, flow))
        return {"milk_flow": [{"forecaster": "seasonal_naive", "mase": 0.446}]}

    monkeypatch.setattr(bench_forecast, "run_forecast_bench", fake)
    result = CliRunner().invoke(app, ["bench", "forecast", "--no-m4", "--dataset", "Hourly", "--json"])
    assert result.exit_code == 0, result.output
    assert calls == [(2, ("Hourly",), False, True)]
    assert json.loads(result.stdout)["milk_flow"][0]["mase"] == 0.446
    assert "forecast" in CliRunner().invoke(app, ["bench", "--help"]).stdout


def test_milk_flow_rows_put_the_course_recipe_beside_every_cell_and_baseline():
    ranking = [{"forecaster": "seasonal_naive", "kind": "baseline", "mase": 0.4, "test_rmse": 13.0, "smape": 1.0,
                "owa": 0.5},
               {"forecaster": "rnn", "kind": "model", "mase": 0.6, "test_rmse": 15.0, "smape": 1.5, "owa": 0.8}]
    course = [{"forecaster": "lstm", "kind": "model", "mase": 1.0, "test_rmse": 26.0, "smape": 2.6, "owa": 1.3},
              ranking[0]]
    rows = bench_forecast.milk_flow_rows({"every cell": {"ranking": ranking}, "course recipe": {"ranking": course}})
    assert [(r["forecaster"], r["kind"]) for r in rows] == [
        ("seasonal_naive", "baseline"), ("rnn", "model"), ("course recipe", "lstm, recursive")]
