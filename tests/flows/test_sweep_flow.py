"""`seqflow run sweep`: points checked before anything starts; a tiny grid run serially, nested under one
sweep run, ranked; its best preset reproduces the best point's score with `seqflow run forecast`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks import paths

EXPERIMENT = "sweep-e2e"


def _base(folder: Path) -> Path:
    milk = paths.PROJECT_ROOT / "data" / "monthly-milk.csv"
    base = folder / "base.toml"
    base.write_text(f"""seed = 7
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
[train]
epochs = 2
progress = false
threads = 1
[evaluate]
folds = 1
baselines = ["naive", "seasonal_naive"]
[tracking]
experiment = "{EXPERIMENT}"
""")
    return base


def _sweep(folder: Path, grid: str) -> Path:
    sweep = folder / "sweep.toml"
    sweep.write_text(f'base = {json.dumps(str(_base(folder)))}\nmetric = "mase"\n[grid]\n{grid}\n')
    return sweep


@pytest.mark.parametrize(("grid", "said"), [
    ('"model.units" = [4, 0]', "sweep point 2 of 2 (model.units=0): model.units = 0"),
    ('"model.units" = [4]\n"model.cell" = ["gru"]', "sweep point 1 of 1 (model.units=4, model.cell=\"gru\"): "
                                                   "model.cell: unknown key"),
    ('"window.horizon" = [6, 12]', "grid key 'window.horizon': every point must share it"),
    ('"model.units" = []', "grid key 'model.units': needs at least one value"),
])
def test_a_bad_grid_is_refused_before_anything_starts_naming_the_point_and_key(tmp_path, grid, said):
    result = CliRunner().invoke(app, ["run", "sweep", "--config", str(_sweep(tmp_path, grid)),
                                      "--best", str(tmp_path / "best.toml")])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
    assert not (tmp_path / "best.toml").exists()


@pytest.mark.slow
def test_every_point_is_a_run_nested_under_the_sweep_and_ranked_by_mase(swept):
    from tasks.tracking import runs, store

    summary, _ = swept
    assert [p["values"] for p in summary["points"]] == [{"model.units": 4}, {"model.units": 8}]
    scores = {p["number"]: p["score"] for p in summary["points"]}
    assert all(math.isfinite(s) for s in scores.values())
    assert [scores[n] for n in summary["ranked"]] == sorted(scores.values())
    client = store.client()
    assert client.get_run(summary["sweep_run_id"]).info.status == "FINISHED"
    for point in summary["points"]:
        run = client.get_run(point["run_id"])
        assert run.data.tags[runs.MLFLOW_PARENT_RUN_ID] == summary["sweep_run_id"]
        # Named after the point first, so the points tell apart in the runs table and the compare view.
        assert run.info.run_name.startswith(f"point {point['number']} · model.units={point['values']['model.units']}"
                                            " · forecast · monthly-milk · gru · ")
        assert run.data.params["model.units"] == str(point["values"]["model.units"])
        assert run.data.metrics["by_model.gru.mase"] == pytest.approx(point["score"])


@pytest.mark.slow
def test_the_best_preset_reproduces_the_best_points_score(swept):
    import tomllib

    summary, best = swept
    top = next(p for p in summary["points"] if p["number"] == summary["ranked"][0])
    assert tomllib.loads(best.read_text())["model"]["units"] == top["values"]["model.units"]
    # Trained again (train.resume = false), not reused from the sweep's kept networks: the preset reproduces
    # the score by training.
    result = CliRunner().invoke(app, ["run", "forecast", "--config", str(best), "--set", "train.resume=false",
                                      "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    gru = next(r for r in again["ranking"] if r["forecaster"] == "gru")
    assert gru["mase"] == pytest.approx(top["score"], rel=1e-9)


def test_the_shipped_example_sweep_is_eight_checked_points_of_the_milk_preset(monkeypatch):
    from flows.cli.sweep import plan_sweep

    monkeypatch.chdir(paths.PROJECT_ROOT)
    plan = plan_sweep(paths.configs_dir() / "sweeps" / "milk.toml")
    assert len(plan.points) == len(plan.configs) == len({json.dumps(p, sort_keys=True) for p in plan.points}) == 8
    assert {c.train.epochs for c in plan.configs} == {300}  # milk.toml's, untouched by the grid
    assert {c.tracking.registered_model for c in plan.configs} == {None}  # points are not registered
    assert all("registered_model" not in p.get("tracking", {}) for p in plan.presets)
