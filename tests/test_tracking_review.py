"""What a reviewer meets in MLflow: run names, rankable metric names, hidden bookkeeping, datasets."""

import datetime
import json

import pandas as pd

from flows.tracked import recipe, run_name
from tasks.embeddings.config import EmbedConfig
from tasks.forecasting.config import ForecastConfig
from tasks.tracking import runs, store

NOON = datetime.datetime(2026, 12, 3, 12, 0, 5, tzinfo=datetime.timezone.utc)


def test_run_names_say_flow_subject_recipe_and_start_time():
    cfg = ForecastConfig.model_validate({"model": {"cells": "gru,lstm"}})
    assert recipe(cfg) == "gru+lstm"
    assert recipe(EmbedConfig.model_validate({"model": {"backend": "gensim,tf"}})) == "gensim+tf"
    assert run_name("forecast", "shop", recipe(cfg), NOON) == "forecast · shop · gru+lstm · 2026-12-03 12:00:05"
    later = NOON + datetime.timedelta(seconds=1)
    assert run_name("forecast", "shop", "gru", NOON) != run_name("forecast", "shop", "gru", later)
    assert run_name("lesson", "adding", "", NOON) == "lesson · adding · 2026-12-03 12:00:05"


def test_a_name_taken_in_the_experiment_gets_the_next_sequence(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = store.ensure_experiment("unit-review-names")
    name = f"forecast · shop · gru · {datetime.datetime.now(datetime.timezone.utc).isoformat()}"
    assert runs.unique_run_name(exp_id, name) == name
    first = runs.start_run(exp_id, name, {})
    assert runs.unique_run_name(exp_id, name) == f"{name} #2"
    second = runs.start_run(exp_id, f"{name} #2", {})
    assert runs.unique_run_name(exp_id, name) == f"{name} #3"
    for run_id in (first, second):
        runs.end_run(run_id)


def test_parent_metrics_keep_the_childrens_names_and_per_model_copies_cannot_collide():
    per_model = {"gru": {"mase": 0.8, "smape": 9.0}, "naive2": {"mase": 1.0, "smape": 11.0}}
    found = runs.ranked_metrics(per_model["gru"], per_model)
    assert found == {"mase": 0.8, "smape": 9.0, "by_model.gru.mase": 0.8, "by_model.gru.smape": 9.0,
                     "by_model.naive2.mase": 1.0, "by_model.naive2.smape": 11.0}
    assert runs.ranked_metrics({}, per_model).keys().isdisjoint({"mase", "smape"})


def test_owner_bookkeeping_is_hidden_from_the_ui_and_old_runs_still_reconcile():
    assert all(key.startswith("mlflow.") for key in (runs.OWNER_HOST, runs.OWNER_PID, runs.OWNER_START))
    legacy = {"seqflow.owner.host": "some-other-machine", "seqflow.owner.pid": "1", "seqflow.owner.start": "1"}
    assert runs.owner_alive(legacy) is None  # read under the old keys: another host, cannot tell
    mine = runs.owner_tags()
    old_keys = {k.removeprefix("mlflow."): v for k, v in mine.items()}
    assert runs.owner_alive(old_keys) is True


def test_a_dataset_is_recorded_on_the_run_and_inherited_by_its_children(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = store.ensure_experiment("unit-review-datasets")
    parent = runs.start_run(exp_id, "parent", {})
    sample = pd.DataFrame({"series_id": ["a", "a"], "timestamp": pd.to_datetime(["2020-01-01", "2020-02-01"]),
                           "value": [1.0, 2.0]})
    runs.log_dataset(parent, "shop", "/data/shop.csv", "f" * 64, sample, {"num_rows": 114, "num_series": 2})
    child = runs.start_run(exp_id, "child", {}, parent_run_id=parent)
    for run_id in (parent, child):
        (found,) = store.client().get_run(run_id).inputs.dataset_inputs
        assert (found.dataset.name, found.dataset.digest) == ("shop", "f" * 36)
        assert json.loads(found.dataset.source) == {"uri": "/data/shop.csv"}
        assert json.loads(found.dataset.profile) == {"num_rows": 114, "num_series": 2}
        columns = [c["name"] for c in json.loads(found.dataset.schema)["mlflow_colspec"]]
        assert columns == ["series_id", "timestamp", "value"]
        assert {t.key: t.value for t in found.tags} == {"mlflow.data.context": "training"}
    for run_id in (child, parent):
        runs.end_run(run_id)


def test_a_served_forecasters_signature_lets_the_model_check_its_history_itself():
    from tasks.tracking.models import forecaster_signature

    signature = forecaster_signature(("series_id", "timestamp", "value"), ("series_id", "timestamp", "yhat", "lower"))
    assert [(c.name, c.required, str(c.type)) for c in signature.inputs] == [
        ("series_id", False, "Any"), ("timestamp", False, "Any"), ("value", False, "Any")]
    assert [(c.name, c.type.name) for c in signature.outputs] == [
        ("series_id", "string"), ("timestamp", "datetime"), ("yhat", "double"), ("lower", "double")]


def test_log_table_writes_a_table_mlflow_renders(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = store.ensure_experiment("unit-review-tables")
    run_id = runs.start_run(exp_id, "tables", {})
    runs.log_table(run_id, [{"rank": 1, "forecaster": "gru", "mase": 0.8, "fold": None},
                            {"rank": 2, "forecaster": "naive2", "mase": 1.0, "fold": (0, 1)}], "ranking_table.json")
    runs.end_run(run_id)
    table = runs.load_dict(run_id, "ranking_table.json")
    assert table["columns"] == ["rank", "forecaster", "mase", "fold"]
    assert table["data"] == [[1, "gru", 0.8, None], [2, "naive2", 1.0, "(0, 1)"]]
    # log_table records the file so the UI lists it among the run's tables
    assert "ranking_table.json" in store.client().get_run(run_id).data.tags["mlflow.loggedArtifacts"]


def test_bookkeeping_tags_go_under_the_prefix_the_ui_hides():
    assert runs.internal({"scores_path": "/a/b.parquet"}) == {"mlflow.seqflow.scores_path": "/a/b.parquet"}


def test_the_parent_description_says_how_its_runs_rank():
    from flows.tracked import run_description

    text = run_description({"window.lookback": "12"}, "mase")
    assert text.startswith("Ranked by `mase` (lower is better)")
    assert "`by_model.<model>.mase`" in text and "**Sort → mase**" in text
    assert text.endswith("Settings changed from the defaults: `window.lookback=12`")
    assert run_description({}) == "Settings changed from the defaults: none"


def test_a_dataset_with_integer_columns_is_recorded_without_mlflows_missing_value_hint(monkeypatch):
    # The hint (integer columns cannot hold missing values at inference time) is about a model's input
    # schema; a dataset's record is not enforced, and the demo printed it on every embed run.
    import warnings

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = store.ensure_experiment("unit-review-datasets-int")
    run = runs.start_run(exp_id, "run", {})
    sample = pd.DataFrame({"document": [0, 1], "tokens": [5, 7]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runs.log_dataset(run, "corpus", "/data/corpus.txt", "e" * 64, sample, {"num_rows": 2})
    (found,) = store.client().get_run(run).inputs.dataset_inputs
    assert [c["type"] for c in json.loads(found.dataset.schema)["mlflow_colspec"]] == ["long", "long"]
    runs.end_run(run)
