"""End to end: three retrains of one registered forecaster on a growing sales file, and three refusals.

The first retrain (the file less its last 24 months) promotes: no champion yet; the second, with 12
months appended, scores both on the same new holdout; the third, with the last 12 months appended
and a deliberately worse recipe, keeps the champion. Then the same file again (no new data), one with
a broken row and one whose last year is scaled ×3 each stop at validation with their report, the
champion untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks import paths

pytestmark = pytest.mark.slow

NAME = "forecast-sales"  # auto: the file's stem
RECIPE = ["--config", str(paths.configs_dir() / "sales.toml"), "--set", "model.ensemble=1", "--set", "model.units=4",
          "--set", "train.epochs=30", "--set", "train.progress=false", "--set", "tracking.experiment=e2e-retrain",
          "--set", "evaluate.baselines=naive,seasonal_naive"]
# Worse on purpose: no preprocessing (a trending, seasonal series standardised only), one epoch at a tiny rate.
WORSE = ["--set", "preprocess.deseasonalise=off", "--set", "preprocess.log=false", "--set", "preprocess.level=off",
         "--set", "train.epochs=1", "--set", "train.learning_rate=0.0001"]


def _sales() -> pd.DataFrame:
    return pd.read_csv(paths.PROJECT_ROOT / "data" / "alcohol-sales.csv")


def _write(path: Path, frame: pd.DataFrame, extra: str = "") -> Path:
    path.write_text(frame.to_csv(index=False) + extra)
    return path


def _retrain(path: Path, *extra: str) -> dict:
    result = CliRunner().invoke(app, ["run", "retrain", *RECIPE, "--set", f"source.path={json.dumps(str(path))}",
                                      *extra, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _champion() -> str | None:
    from tasks.tracking import registry

    return registry.version_by_alias(NAME, "champion")


@pytest.fixture(scope="module")
def retrains(prefect_harness, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("retrain")
    path = folder / "sales.csv"
    full = _sales()
    first = _retrain(_write(path, full.iloc[:-24]))
    second = _retrain(_write(path, full.iloc[:-12]))
    third = _retrain(_write(path, full), *WORSE)
    return {"path": path, "full": full, "runs": [first, second, third]}


def test_the_first_retrain_promotes(retrains):
    first = retrains["runs"][0]
    assert (first["status"], first["champion_before"], first["champion_after"]) == ("promoted", None, "1")
    assert first["reason"] == "no champion yet: the first challenger is promoted"
    assert set(first["scores"]) == {"challenger"}


def test_the_second_scores_both_on_the_same_new_holdout_and_records_the_decision(retrains):
    from tasks.tracking import registry, runs, store

    second = retrains["runs"][1]
    assert second["champion_before"] == "1" and second["challenger"] == "2"
    assert set(second["scores"]) == {"challenger", "champion"}
    assert all(m["n_series"] == 1 for m in second["scores"].values())
    expected_after = "2" if second["status"] == "promoted" else "1"
    assert second["champion_after"] == expected_after
    run = store.client().get_run(second["parent_run_id"])
    assert run.data.tags["decision"] == second["status"] and run.data.tags["validation"] == "ok"
    assert run.data.tags["challenger_version"] == "2" and run.data.tags["champion_version"] == expected_after
    decision = runs.load_dict(second["parent_run_id"], "decision.json")
    assert [row["model"] for row in decision["rows"]] == ["challenger", "champion"]
    table = runs.load_dict(second["parent_run_id"], "decision_table.json")  # the same rows as MLflow renders them
    assert table["data"][0][table["columns"].index("model")] == "challenger"
    # Ranked like any run: the challenger's scores under the plain names, both models' under by_model.
    assert run.data.metrics["mase"] == run.data.metrics["by_model.challenger.mase"]
    assert "by_model.champion.mase" in run.data.metrics and "challenger.mase" not in run.data.metrics
    version = registry.version_info(NAME, "2")
    assert version["tags"]["gate_decision"] == second["status"] and "fresh_holdout_mase" in version["tags"]
    assert version["tags"]["data_content_hash"] and version["description"].startswith("gru forecaster of sales")
    (fresh,) = run.inputs.dataset_inputs  # the fresh data, as the challenger saw it
    assert fresh.dataset.name == "sales" and fresh.dataset.digest == version["tags"]["data_content_hash"][:36]


def test_a_worse_recipe_keeps_the_champion(retrains):
    second, third = retrains["runs"][1], retrains["runs"][2]
    assert third["status"] == "kept_champion", third["reason"]
    assert third["champion_before"] == third["champion_after"] == second["champion_after"]
    assert third["scores"]["challenger"]["mase"] > third["scores"]["champion"]["mase"]
    from tasks.tracking import registry

    assert registry.version_by_alias(NAME, "challenger") == third["challenger"] == "3"
    assert _champion() == second["champion_after"]


def test_the_decision_is_a_prefect_table_artifact_on_the_flow_run(retrains):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    third = retrains["runs"][2]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[third["flow_run_id"]])))
    kinds = {a.type for a in found}
    assert {"table", "markdown"} <= kinds
    table = next(a for a in found if a.type == "table")
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {row["model"] for row in rows} == {"challenger", "champion"}


@pytest.mark.parametrize("case", ["no new data", "broken row", "drift", "a zero under the log"])
def test_bad_fresh_data_stops_at_validation_and_leaves_the_champion(retrains, case, tmp_path):
    from tasks.tracking import store

    before = _champion()
    full, path = retrains["full"], retrains["path"]
    if case == "no new data":
        _write(path, full)
    elif case == "broken row":
        _write(path, full, "2019-03-01,not a number\n")
    elif case == "a zero under the log":  # sales.toml takes the log: refused at validation, not after training
        zero = full.copy()
        zero.loc[zero.index[-3], "SALE"] = 0
        _write(path, zero)
    else:
        drifted = full.copy()
        drifted.loc[drifted.index[-12:], "SALE"] = drifted["SALE"].iloc[-12:] * 3
        _write(path, drifted)
    summary = _retrain(path)
    expected = "no_new_data" if case == "no new data" else "validation_failed"
    assert summary["status"] == expected, summary["reason"]
    assert summary["challenger"] is None and summary["champion_after"] == before == _champion()
    run = store.client().get_run(summary["parent_run_id"])
    assert run.data.tags["decision"] == expected
    if case == "broken row":
        assert "row 327" in summary["reason"] and "SALE" in summary["reason"]
    if case == "a zero under the log":
        assert "preprocess.log = true needs every value > 0" in summary["reason"], summary["reason"]
        assert "sales.csv" in summary["reason"] and "'sales'" in summary["reason"] and "row 324" in summary["reason"]
    if case == "drift":
        failed = [row for row in summary["validation"] if not row["ok"]]
        assert failed and failed[0]["check"] == "level" and float(failed[0]["value"]) > 1.5


def test_the_retrain_and_its_challengers_flow_runs_are_named_tagged_and_linked(retrains):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from tasks.tracking import runs, store

    third = retrains["runs"][2]
    challenger_flow_run = store.client().get_run(third["challenger_run_id"]).data.tags[runs.PREFECT_FLOW_RUN]
    with get_client(sync_client=True) as client:
        retrain_run = client.read_flow_run(third["flow_run_id"])
        challenger = client.read_flow_run(challenger_flow_run)
        keys = {a.key for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[third["flow_run_id"], challenger_flow_run])))}
    assert retrain_run.name.startswith("retrain-sales-") and {"flow:retrain", "subject:sales"} <= set(retrain_run.tags)
    assert challenger.name.startswith("forecast-sales-") and "cells:gru" in challenger.tags
    assert {"retrain-sales-mlflow-run", "forecast-sales-mlflow-run", "forecast-sales-ranking"} <= keys
