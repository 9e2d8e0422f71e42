"""What a reviewer reads on a Prefect flow run: its name, tags, the link to its MLflow run and its tables."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from flows import artifacts
from flows.cli import app

NOW = datetime(2026, 12, 3, 12, 45, 1, tzinfo=timezone.utc)


def test_a_flow_run_is_named_after_its_flow_subject_and_time():
    assert artifacts.flow_run_name("forecast", "alcohol-sales", NOW) == "forecast-alcohol-sales-20261203-124501"
    assert artifacts.flow_run_name("embed", "Lee Background.cor", NOW) == "embed-lee-background-cor-20261203-124501"


def test_tags_name_the_flow_subject_config_and_recipe():
    settings = {"model.cells": "gru,lstm", "model.units": "32", "seed": "0"}
    assert artifacts.flow_run_tags("forecast", "alcohol-sales", "0f3a9c21", settings) == [
        "seqflow", "flow:forecast", "subject:alcohol-sales", "config:0f3a9c21", "cells:gru,lstm"]
    embed = artifacts.flow_run_tags("embed", "lee", "1", {"model.backend": "gensim", "model.architecture": "skipgram"})
    assert embed[-2:] == ["backend:gensim", "architecture:skipgram"]


@pytest.mark.parametrize(
    ("uri", "base"),
    [("sqlite:////tmp/a/mlflow.db", "http://127.0.0.1:5000"), ("http://mlflow.example:8080/", "http://mlflow.example:8080")],
)
def test_the_mlflow_link_opens_the_run_and_the_training_view(uri, base):
    run, view = artifacts.mlflow_urls(uri, "7", "abc")
    assert run == f"{base}/#/experiments/7/runs/abc"
    assert view == f"{base}/#/experiments/7?workflowType=machine_learning"


@dataclass(frozen=True)
class _Ranked:
    rank: int
    forecaster: str
    mase: float
    owa: float


@dataclass(frozen=True)
class _Summary:
    parent_run_name: str
    ranking: tuple
    ranked_by: str = "mase"
    flow_run_id: str = "none"


def test_summary_tables_are_rows_in_field_order_with_rounded_numbers():
    summary = _Summary("forecast · alcohol-sales · 0f3a9c21", (_Ranked(1, "gru", 0.831234567, math.nan),
                                                               _Ranked(2, "naive", 1.5, 2.0)))
    [(name, description, rows)] = artifacts.summary_tables(summary)
    assert name == "ranking" and description == "models and baselines, best first by mase"
    assert rows == [{"rank": 1, "forecaster": "gru", "mase": 0.8312, "owa": ""},
                    {"rank": 2, "forecaster": "naive", "mase": 1.5, "owa": 2.0}]
    assert artifacts.summary_tables(_Summary("x · y · z", ())) == []


def test_artifact_keys_are_what_prefect_accepts():
    assert artifacts.artifact_key("forecast · Alcohol_Sales", "ranking") == "forecast-alcohol-sales-ranking"
    assert artifacts.artifact_key("///") == "seqflow"


# End to end: the flow runs of the CLI, read back through Prefect's API.

STUDY = ["--set", "source.x_end=40", "--set", "window.lookback=12", "--set", "model.units=8", "--set",
         "train.epochs=2", "--set", "evaluate.generate_steps=10", "--set", "tracking.experiment=e2e-view",
         "--set", "train.progress=false", "--set", "model.cells=gru"]
WORDS = ("cat dog horse cow sheep goat mouse bird", "bank money coin cash loan price market trade")


def _flow_run_and_artifacts(flow_run_id: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[flow_run_id])))
    return run, {a.key: a for a in found}


@pytest.mark.slow
def test_a_study_run_is_named_tagged_linked_and_shows_its_ranking(prefect_harness):
    from tasks.tracking import store

    result = CliRunner().invoke(app, ["run", "study", *STUDY, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    run, found = _flow_run_and_artifacts(summary["flow_run_id"])
    assert run.name.startswith("study-sine-") and len(run.name) == len("study-sine-20261203-124501")
    assert {"seqflow", "flow:study", "subject:sine", "cells:gru"} <= set(run.tags)
    config = [t.removeprefix("config:") for t in run.tags if t.startswith("config:")]
    assert len(config) == 1 and re.fullmatch(r"[0-9a-f]{8}", config[0]), run.tags  # the config's short hash
    link = found["study-sine-mlflow-run"]
    assert link.type == "markdown" or link.type == "link"
    experiment = store.client().get_experiment_by_name("e2e-view").experiment_id
    assert f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{summary['parent_run_id']}" in link.data
    ranking = found["study-sine-ranking"]
    assert ranking.type == "table"
    rows = json.loads(ranking.data) if isinstance(ranking.data, str) else ranking.data
    assert [r["forecaster"] for r in rows] == [r["forecaster"] for r in summary["ranking"]]
    assert rows[0]["rank"] == 1 and "test_rmse" in rows[0]


@pytest.mark.slow
def test_an_embed_run_shows_its_neighbours_and_scores(prefect_harness, tmp_path):
    import random

    rng = random.Random(0)
    corpus = tmp_path / "topics.txt"
    corpus.write_text("".join(" ".join(rng.choice(WORDS[rng.random() < 0.5].split()) for _ in range(12)) + ".\n"
                              for _ in range(300)))
    settings = {"tokenize.min_count": 2, "model.epochs": 2, "model.vector_size": 16, "model.workers": 1,
                "evaluate.probe_words": "cat,bank", "evaluate.neighbours": 3, "evaluate.tsne_top_n": 12,
                "evaluate.tsne_label_top": 5, "evaluate.perplexity": 3, "evaluate.tsne_max_iter": 250,
                "tracking.experiment": "e2e-view-embed"}
    sets = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    result = CliRunner().invoke(app, ["run", "embed", "--corpus", str(corpus), *sets, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    run, found = _flow_run_and_artifacts(summary["flow_run_id"])
    # The subject is the corpus file's name, topics.txt.
    assert run.name.startswith("embed-topics-txt-") and {"flow:embed", "subject:topics.txt", "backend:gensim"} <= set(
        run.tags)
    assert {"embed-topics-txt-mlflow-run", "embed-topics-txt-neighbours", "embed-topics-txt-scores"} <= set(found)
    scores = found["embed-topics-txt-scores"].data
    scores = json.loads(scores) if isinstance(scores, str) else scores
    assert {r["metric"] for r in scores} == set(summary["metrics"])
    rows = found["embed-topics-txt-neighbours"].data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert {r["probe"] for r in rows} == {n["probe"] for n in summary["neighbours"]}
