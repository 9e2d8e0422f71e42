"""`seqflow bench` stays the speed bench; `seqflow bench forecast` is the accuracy bench beside it."""

from __future__ import annotations

import io
import json
import math

import pytest
from rich.console import Console
from typer.testing import CliRunner

from benchmarks import forecast as bench_forecast
from benchmarks import speed
from flows.cli import app


def test_bench_alone_still_runs_the_speed_bench(monkeypatch):
    calls = []
    monkeypatch.setattr(speed, "run_bench", lambda overrides, repeats, console: calls.append((overrides, repeats)))
    result = CliRunner().invoke(app, ["bench", "--repeats", "2", "--set", "model.cells=rnn"])
    assert result.exit_code == 0, result.output
    assert calls == [(["model.cells=rnn"], 2)]


def test_bench_forecast_runs_the_accuracy_bench(monkeypatch):
    calls = []

    def fake(console, workers, datasets, m4, flow, m4_flow):
        calls.append((workers, datasets, m4, flow, m4_flow))
        return {"milk_flow": [{"forecaster": "seasonal_naive", "mase": 0.446}]}

    monkeypatch.setattr(bench_forecast, "run_forecast_bench", fake)
    result = CliRunner().invoke(app, ["bench", "forecast", "--no-m4", "--dataset", "Hourly", "--json"])
    assert result.exit_code == 0, result.output
    assert calls == [(2, ("Hourly",), False, True, False)]
    assert json.loads(result.stdout)["milk_flow"][0]["mase"] == 0.446
    assert "forecast" in CliRunner().invoke(app, ["bench", "--help"]).stdout


def test_bench_forecast_m4_flow_is_opt_in(monkeypatch):
    calls = []
    monkeypatch.setattr(bench_forecast, "run_forecast_bench",
                        lambda console, workers, datasets, m4, flow, m4_flow: calls.append((datasets, m4_flow)) or {})
    result = CliRunner().invoke(app, ["bench", "forecast", "--no-m4", "--no-flow", "--m4-flow", "--dataset", "Weekly"])
    assert result.exit_code == 0, result.output
    assert calls == [(("Weekly",), True)]


def _summary(model_mase: float) -> dict:
    """A flow --json summary of an M4 run, cut to what the bench reads."""
    return {
        "parent_run_id": "parent",
        "models": [{"cell": "gru", "failure": None, "metrics": {"coverage": 0.93, "msis": 9.5}}],
        "ranking": [
            {"forecaster": "gru", "kind": "model", "smape": 14.0, "mase": model_mase, "owa": 0.61},
            {"forecaster": "seasonal_naive", "kind": "baseline", "smape": 13.912, "mase": 1.193, "owa": 0.627},
            {"forecaster": "naive2", "kind": "baseline", "smape": 18.383, "mase": 2.395, "owa": 1.0},
        ],
    }


def test_m4_flow_runs_the_preset_on_the_shared_files(monkeypatch, tmp_path):
    (tmp_path / "m4").mkdir()
    monkeypatch.setattr(bench_forecast, "SHARED_DATA", tmp_path)
    monkeypatch.setattr(bench_forecast, "_milk_baseline_tables", lambda console, figures: None)
    runs = []

    def fake_flow(preset, extra=(), sets=()):
        runs.append((preset.name, list(sets)))
        return _summary(1.1), 12.5

    monkeypatch.setattr(bench_forecast, "run_flow", fake_flow)
    figures = bench_forecast.run_forecast_bench(Console(file=io.StringIO()), datasets=("Hourly",), m4=False,
                                                m4_flow=True)
    assert runs == [("m4_hourly.toml", [f"source.path={tmp_path / 'm4' / 'Hourly-train.csv'}",
                                        f"source.test_path={tmp_path / 'm4' / 'Hourly-test.csv'}"])]
    rows = {r["forecaster"]: r for r in figures["m4_flow"]}
    assert rows["gru"]["coverage"] == 0.93 and rows["gru"]["msis"] == 9.5 and rows["gru"]["wall_s"] == 12.5
    assert rows["seasonal_naive"]["official_owa"] == 0.627 and math.isnan(rows["seasonal_naive"]["msis"])


def test_m4_flow_is_skipped_without_the_shared_data(monkeypatch, tmp_path):
    monkeypatch.setattr(bench_forecast, "SHARED_DATA", tmp_path)
    monkeypatch.setattr(bench_forecast, "_milk_baseline_tables", lambda console, figures: None)
    monkeypatch.setattr(bench_forecast, "run_flow", lambda *a, **k: pytest.fail("the flow ran without the data"))
    out = io.StringIO()
    figures = bench_forecast.run_forecast_bench(Console(file=out), datasets=("Weekly",), m4=False, m4_flow=True)
    assert figures["m4_flow"] == [] and "M4 part skipped" in out.getvalue()


def test_bench_corpus_runs_the_ingest_bench(monkeypatch):
    from benchmarks import embed_corpus

    calls = []
    monkeypatch.setattr(embed_corpus, "run_corpus_bench",
                        lambda megabytes, scaling, console: calls.append((megabytes, scaling)) or [{"form": "spaces"}])
    result = CliRunner().invoke(app, ["bench", "corpus", "--megabytes", "8", "--no-scaling", "--json"])
    assert result.exit_code == 0, result.output
    assert calls == [(8, False)] and json.loads(result.stdout) == [{"form": "spaces"}]


def test_bench_csv_passes_its_stages_and_settings_and_refuses_training_without_ingest(monkeypatch):
    from benchmarks import csv_memory

    calls = []
    monkeypatch.setattr(csv_memory, "run_csv_bench", lambda rows, series, horizon, console, stages, overrides:
                        calls.append((rows, stages, overrides)) or [{"stage": s} for s in stages])
    args = ["bench", "csv", "--rows", "20000", "--stage", "ingest", "--stage", "training",
            "--set", "train.max_window_mb=64", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert calls == [(20_000, ("ingest", "training"), ["train.max_window_mb=64"])]
    assert json.loads(result.stdout) == [{"stage": "ingest"}, {"stage": "training"}]
    refused = CliRunner().invoke(app, ["bench", "csv", "--stage", "training"])
    assert refused.exit_code == 2 and "training needs ingest" in refused.output
    assert len(calls) == 1
