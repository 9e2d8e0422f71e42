"""retrain-embed: word vectors gated against the champion on one benchmark (the config's rules, then end to end).

End to end on a tiny corpus written here (seven topics whose words WordSim-353 judges; a topic's
words share their contexts, so trained vectors rank the judged pairs roughly as people do): the
first retrain promotes (no champion yet); the second, with a deliberately worse recipe (one epoch,
two dimensions), is gated by the rule on the recorded scores and keeps the champion; the third
finds the champion's recorded score measured on another benchmark file and scores its vectors
again; a corpus the flow refuses stops before anything is trained, champion untouched.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from flows.cli import app
from flows.retrain_embed import RetrainEmbedConfig
from tasks.embeddings.config import EmbedConfig

TOPICS = {
    "finance": "money cash bank stock market dollar currency wealth deposit yen buck profit loss credit card dividend "
               "payment".split(),
    "animals": "tiger jaguar feline cat dog animal horse".split(),
    "space": "planet star moon sun galaxy space astronomer constellation".split(),
    "computers": "computer keyboard internet software hardware network phone cell cd".split(),
    "farm": "rooster egg cabbage cucumber fruit food".split(),
    "court": "king queen professor lawyer law".split(),
    "travel": "journey voyage coast shore street avenue hotel reservation".split(),
}
GLUE = "the a and of in on with".split()
NAME = "embed-gated"  # auto: the corpus file's stem
METRIC = "wordsim353_spearman"
SMALL = ["--set", "model.vector_size=16", "--set", "model.epochs=4", "--set", "model.workers=1",
         "--set", "tokenize.min_count=2", "--set", "evaluate.probe_words=money,tiger", "--set", "evaluate.neighbours=5",
         "--set", "evaluate.tsne_top_n=40", "--set", "evaluate.tsne_label_top=10", "--set", "evaluate.perplexity=5",
         "--set", "evaluate.tsne_max_iter=250", "--set", "tracking.experiment=e2e-retrain-embed"]
WORSE = ["--set", "model.epochs=1", "--set", "model.vector_size=2"]  # one pass, two dimensions


def _write_corpus(path: Path, lines: int = 600) -> Path:
    rng = random.Random(3)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            topic = TOPICS[rng.choice(list(TOPICS))]
            words = [rng.choice(topic) if rng.random() < 0.7 else rng.choice(GLUE) for _ in range(12)]
            handle.write(" ".join(words).capitalize() + ".\n")
    return path


# --- the config: what a retrain of vectors needs, refused at load -----------------------------------------------


def test_the_gate_is_checked_against_the_scores_the_embed_flow_reports():
    cfg = RetrainEmbedConfig()
    assert (cfg.gate.metric, cfg.gate.margin, cfg.registered_name) == (METRIC, 0.02, "embed-text8-prefix")
    assert RetrainEmbedConfig.model_validate({"evaluate": {"restrict_vocab": 1000},
                                              "gate": {"metric": "analogy_1000_accuracy"}}).gate.metric
    assert cfg.as_embed() == EmbedConfig()
    for data, said in [
        ({"gate": {"metric": "mase"}}, "gate.metric = 'mase': not a benchmark score the embed flow reports; valid "
                                       "scores: analogy_30000_accuracy, "),
        ({"gate": {"metric": "analogy_1000_accuracy"}}, "gate.metric = 'analogy_1000_accuracy': not a benchmark"),
        ({"tracking": {"registered_model": "off"}}, "tracking.registered_model = off: a retrain promotes registered"),
        ({"tracking": {"log_models": False}}, "tracking.log_models = false: a retrain registers the vectors it gates"),
        ({"gate": {"margin": 1}}, "less than 1"),
    ]:
        with pytest.raises(ValidationError) as info:
            RetrainEmbedConfig.model_validate(data)
        assert said in str(info.value)


# --- end to end ---------------------------------------------------------------------------------------------------


def _retrain(corpus: Path, *extra: str) -> dict:
    result = CliRunner().invoke(app, ["run", "retrain-embed", "--set", f"corpus.path={json.dumps(str(corpus))}",
                                      *SMALL, *extra, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _alias(alias: str) -> str | None:
    from tasks.tracking import registry

    return registry.version_by_alias(NAME, alias)


@pytest.fixture(scope="module")
def retrains(prefect_harness, tmp_path_factory) -> dict:
    from tasks.tracking import registry

    corpus = _write_corpus(tmp_path_factory.mktemp("retrain-embed") / "gated.txt")
    first = _retrain(corpus)
    aliases_after_first = {"champion": _alias("champion"), "challenger": _alias("challenger")}
    second = _retrain(corpus, *WORSE)
    aliases_after_second = {"champion": _alias("champion"), "challenger": _alias("challenger")}
    # The champion's score, as if measured on an older copy of WordSim-353: it must be measured again.
    recorded = registry.version_info(NAME, second["champion_after"])["tags"]
    registry.tag_version(NAME, second["champion_after"], {"benchmark_wordsim353_sha256": "an-older-file"})
    third = _retrain(corpus, *WORSE, "--set", "seed=7")
    return {"corpus": corpus, "runs": [first, second, third], "recorded": recorded,
            "aliases": [aliases_after_first, aliases_after_second]}


@pytest.mark.slow
def test_the_first_retrain_promotes(retrains):
    first = retrains["runs"][0]
    assert (first["status"], first["champion_before"]) == ("promoted", None)
    assert first["champion_after"] == first["challenger"]
    assert first["reason"] == "no champion yet: the first challenger is promoted"
    assert set(first["scores"]) == {"challenger"} and math.isfinite(first["scores"]["challenger"][METRIC])
    assert retrains["aliases"][0] == {"champion": first["challenger"], "challenger": first["challenger"]}


@pytest.mark.slow
def test_worse_vectors_are_gated_by_the_rule_on_the_recorded_scores_and_keep_the_champion(retrains):
    first, second = retrains["runs"][:2]
    new, old = second["scores"]["challenger"][METRIC], second["scores"]["champion"][METRIC]
    assert old == pytest.approx(first["scores"]["challenger"][METRIC], rel=1e-5)  # the tag (6 digits) is the score
    assert second["champion_scores"].startswith("recorded: from its version's tags: the same wordsim353.tsv")
    threshold = old * (1.02 if old >= 0 else 0.98)
    expected = "promoted" if new > threshold else "kept_champion"
    assert second["status"] == expected, second["reason"]
    assert second["status"] == "kept_champion", (new, old)  # one pass in two dimensions ranks the pairs worse
    assert second["reason"] == (f"challenger {METRIC} {new:.4f} <= {threshold:.4f} (champion {old:.4f} plus 2%): "
                                "the champion stays")
    assert second["champion_before"] == second["champion_after"] == first["challenger"]
    assert retrains["aliases"][1] == {"champion": first["challenger"], "challenger": second["challenger"]}


@pytest.mark.slow
def test_the_decision_is_on_the_run_the_version_and_the_flow_run(retrains):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from tasks.tracking import registry, runs, store

    second = retrains["runs"][1]
    run = store.client().get_run(second["parent_run_id"])
    assert run.data.tags["decision"] == "kept_champion" and run.data.tags["reason"] == second["reason"]
    assert run.data.tags["gate_metric"] == METRIC and run.data.tags["champion_scores"] == "recorded"
    assert (run.data.tags["challenger_version"], run.data.tags["champion_version"]) == (
        second["challenger"], second["champion_after"])
    assert run.data.tags["seqflow.flow"] == "retrain-embed" and run.data.params["gate.metric"] == METRIC
    decision = runs.load_dict(second["parent_run_id"], "decision.json")
    assert [row["model"] for row in decision["rows"]] == ["challenger", "champion"]
    assert decision["rows"][1][METRIC] == f"{second['scores']['champion'][METRIC]:.4f}"
    version = registry.version_info(NAME, second["challenger"])
    tags = version["tags"]
    assert (tags["gate_decision"], tags["gate_reason"], tags["gate_metric"]) == ("kept_champion", second["reason"],
                                                                                  METRIC)
    assert float(tags[METRIC]) == pytest.approx(second["scores"]["challenger"][METRIC], rel=1e-5)
    assert tags["vector_size"] == "2" and tags["vocabulary_size"] == str(sum(map(len, TOPICS.values())) + len(GLUE))
    assert tags["corpus_content_hash"] and tags["config_hash"] and tags["git_commit"]
    assert tags["benchmark_wordsim353_sha256"] and tags["evaluation_code_sha256"]
    assert "data_profile_run_id" not in tags and not any(k.startswith("fresh_holdout_") for k in tags)
    assert version["description"].startswith("gensim skipgram word vectors of gated.txt: ")
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[second["flow_run_id"]])))
    table = next(a for a in found if a.type == "table")
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {row["model"] for row in rows} == {"challenger", "champion"}


@pytest.mark.slow
def test_a_champion_scored_on_another_benchmark_file_is_scored_again(retrains):
    from tasks.tracking import store

    second, third = retrains["runs"][1:]
    assert third["champion_scores"].startswith(
        "re-evaluated: its wordsim353_spearman was measured on another wordsim353.tsv")
    # The same vectors on the same file: the score measured again is the one recorded at registration.
    assert third["scores"]["champion"][METRIC] == pytest.approx(float(retrains["recorded"][METRIC]), rel=1e-5)
    assert third["champion_before"] == third["champion_after"] == second["champion_after"]
    assert store.client().get_run(third["parent_run_id"]).data.tags["champion_scores"] == "re-evaluated"


@pytest.mark.slow
def test_the_champion_serves_word_vectors(retrains):
    from tasks.tracking import models

    model = models.load_model(f"models:/{NAME}@champion")
    out = model.predict(pd.DataFrame({"word": ["money", "Tiger", "unicorn"]}))
    words, _, vectors = models.load_vectors(f"models:/{NAME}@champion")
    assert list(out.columns) == [f"dim_{k}" for k in range(16)]
    assert out.iloc[0].tolist() == vectors[words.index("money")].tolist()
    assert out.iloc[1].tolist() == vectors[words.index("tiger")].tolist()  # looked up lowercased
    assert out.iloc[2].isna().all()
    assert [c.name for c in model.metadata.signature.inputs] == ["word"]


@pytest.mark.slow
def test_a_refused_corpus_stops_before_training_and_leaves_the_champion(retrains):
    from tasks.tracking import store

    before = _alias("champion")
    summary = _retrain(retrains["corpus"], "--set", "tokenize.min_count=100000")
    assert summary["status"] == "validation_failed" and summary["challenger"] is None
    assert "tokenize.min_count = 100000: no word occurs at least 100000 times" in summary["reason"]
    assert summary["champion_before"] == summary["champion_after"] == before == _alias("champion")
    assert store.client().get_run(summary["parent_run_id"]).data.tags["decision"] == "validation_failed"
