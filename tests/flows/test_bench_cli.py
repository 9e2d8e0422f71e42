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
