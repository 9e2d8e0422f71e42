"""End to end: model.recipe = auto chooses on the inner folds only; the held-out months never reach the choice.

The same monthly series is run twice, the second time with its held-out months multiplied by ten:
what auto chose (the rule, each candidate's inner score and weight), the network it serves and its
forecasts must be bit-identical, while the scores of the held-out part differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks import paths, storage

pytestmark = pytest.mark.slow

HORIZON = 6
TINY = ["--horizon", str(HORIZON), "--set", "window.lookback=12", "--set", "model.units=4",
        "--set", "train.epochs=1", "--set", "train.progress=false", "--set", "tracking.experiment=e2e-auto",
        "--set", "tracking.registered_model=off", "--json"]


def _write(path: Path, poison: bool) -> Path:
    n = 72
    t = np.arange(n)
    values = 300 + 2.0 * t + 40 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(3).normal(0, 4, n)
    if poison:
        values[-HORIZON:] *= 10  # the held-out months: only scored
    months = pd.date_range("2015-01-01", periods=n, freq="MS")
    path.write_text("month,units\n" + "".join(f"{m:%Y-%m},{v:.3f}\n" for m, v in zip(months, values)))
    return path


def _run(path: Path) -> dict:
    result = CliRunner().invoke(app, ["run", "forecast", "--path", str(path), *TINY])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def runs(prefect_harness, tmp_path_factory):
    clean, poisoned = tmp_path_factory.mktemp("clean"), tmp_path_factory.mktemp("poisoned")
    # The same file name: the series id is the file's stem.
    return _run(_write(clean / "shop.csv", False)), _run(_write(poisoned / "shop.csv", True))


def _auto(summary: dict) -> dict:
    return next(m for m in summary["models"] if m["cell"] == "auto")


def test_auto_is_ranked_beside_every_candidate_and_marked_as_chosen_before_the_test(runs):
    clean, _ = runs
    assert clean["recipe"] == "auto"
    names = {r["forecaster"]: r for r in clean["ranking"]}
    assert {"auto", "gru-level", "gru-deseason-log-small", "gru-deseason-log", "seasonal_naive",
            "holt_winters_damped", "theta"} <= set(names)
    assert [n for n, r in names.items() if r["chosen"]] == ["auto"]
    assert clean["served_network"] in {"gru-level", "gru-deseason-log-small", "gru-deseason-log"}
    assert clean["served"]["cell"] == clean["served_network"]
    # The held-out fold only: the inner folds are the choice's and are not in the comparison.
    assert {b["fold"] for b in clean["backtest"]} == {0}


def test_the_held_out_values_never_reach_the_choice(runs):
    clean, poisoned = runs
    tables = [storage.read_frame(paths.intermediate_path("auto-choice", _auto(s)["run_id"])) for s in runs]
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert clean["served_network"] == poisoned["served_network"]
    forecasts = [storage.read_frame(Path(s["forecasts_path"])) for s in runs]
    auto = [f[f["model"] == "auto"].sort_values("horizon_step") for f in forecasts]
    assert auto[0]["yhat"].to_numpy().tobytes() == auto[1]["yhat"].to_numpy().tobytes()
    assert not np.array_equal(auto[0]["y"].to_numpy(), auto[1]["y"].to_numpy())
    assert _auto(clean)["metrics"]["mase"] != _auto(poisoned)["metrics"]["mase"]
