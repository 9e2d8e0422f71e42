"""A registered version of vectors: its name, tags and description, and when its recorded scores compare (pure)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from tasks.embeddings import evaluation, versions
from tasks.embeddings.config import EmbedConfig, EvaluateConfig, corpus_stem


@pytest.mark.parametrize(("path", "name"), [
    (None, "embed-text8-prefix"),  # the shipped default corpus, data/text8-prefix.gz
    ("off", "embed-lee_background"),  # corpus.path = off: gensim's own small corpus
    ("reviews.tsv.gz", "embed-reviews"),
    ("/data/My Corpus.txt", "embed-my-corpus"),
    ("text8", "embed-text8"),
    ("docs/", "embed-docs"),
])
def test_auto_names_one_registered_model_per_corpus(path, name):
    corpus = {} if path is None else {"path": None if path == "off" else path}
    assert EmbedConfig.model_validate({"corpus": corpus}).registered_name == name


def test_a_registered_name_is_checked_at_load_and_off_registers_nothing():
    assert EmbedConfig.model_validate({"tracking": {"registered_model": "off"}}).registered_name is None
    assert EmbedConfig.model_validate({"tracking": {"registered_model": "vectors.v2"}}).registered_name == "vectors.v2"
    with pytest.raises(ValidationError, match="a registered model name is letters, digits, '.', '_' and '-'"):
        EmbedConfig.model_validate({"tracking": {"registered_model": "team/vectors"}})
    assert corpus_stem(Path("a.cor")) == "a" and corpus_stem(Path("b.csv.bz2")) == "b"


def test_benchmark_scores_are_the_names_the_evaluation_reports():
    names = evaluation.benchmark_scores(30_000)
    assert names[:3] == ("analogy_30000_accuracy", "analogy_30000_semantic", "analogy_30000_syntactic")
    assert {"analogy_300000_accuracy", "wordsim353_spearman", "simlex999_spearman", "simlex999_pearson"} <= set(names)
    assert len(evaluation.benchmark_scores(300_000)) == len(names) - 3  # one restriction: gensim's own
    report = evaluation.evaluate_vectors(
        evaluation.WordVectors(("cat", "dog"), np.array([2, 1]), np.eye(2, dtype=np.float32)),
        EvaluateConfig(probe_words=("cat",), tsne_top_n=10, tsne_label_top=1, perplexity=5))
    assert set(names) <= set(report.metrics())
    assert evaluation.benchmark_file("analogy_30000_accuracy").name == "questions-words.txt"
    assert evaluation.benchmark_file("simlex999_spearman").name == "simlex999.txt"
    with pytest.raises(ValueError, match="'tsne_trustworthiness' is measured on no benchmark"):
        evaluation.benchmark_file("tsne_trustworthiness")


def _tags(**changes) -> dict[str, str]:
    scores = {"wordsim353_spearman": 0.41, "simlex999_spearman": math.nan, "analogy_30000_accuracy": 0.25}
    hashes = {evaluation.benchmark_file(k): f"sha-{evaluation.benchmark_file(k).stem}" for k in scores}
    tags = versions.version_tags(corpus="topics.txt", corpus_hash="c0ffee", config_hash="cfg", git_commit="abc",
                                 vocabulary_size=67, backend="gensim", architecture="skipgram", vector_size=16,
                                 scores=scores, benchmark_hashes=hashes, evaluation_code="code", parent_run_id="p",
                                 model_run_id="m")
    return {**tags, **changes}


def test_a_version_records_what_it_was_trained_on_and_how_it_scored():
    tags = _tags()
    assert {k: tags[k] for k in ("corpus_content_hash", "config_hash", "git_commit", "vocabulary_size")} == {
        "corpus_content_hash": "c0ffee", "config_hash": "cfg", "git_commit": "abc", "vocabulary_size": "67"}
    assert tags["wordsim353_spearman"] == "0.41" and tags["simlex999_spearman"] == "nan"
    assert tags["benchmark_wordsim353_sha256"] == "sha-wordsim353"
    assert tags["benchmark_questions-words_sha256"] == "sha-questions-words"
    assert tags[versions.EVALUATION_CODE_TAG] == "code"
    said = versions.version_description(corpus="topics.txt", backend="gensim", architecture="skipgram",
                                        vocabulary_size=1234, vector_size=16, epochs=4,
                                        scores={"wordsim353_spearman": 0.41, "simlex999_spearman": math.nan,
                                                "analogy_30000_accuracy": 0.25}, restrict_vocab=30_000)
    assert said == ("gensim skipgram word vectors of topics.txt: 1,234 words × 16 dims, 4 epochs; WordSim-353 ρ "
                    "+0.410, SimLex-999 ρ n/a, analogies 25.0% (first 30,000 words)")


def test_recorded_scores_count_only_on_the_same_benchmark_file_and_evaluation_code():
    names = evaluation.benchmark_scores(30_000)
    scores, why = versions.recorded_scores(_tags(), _tags(), "wordsim353_spearman", names)
    assert scores["wordsim353_spearman"] == 0.41 and math.isnan(scores["simlex999_spearman"])
    assert why == "from its version's tags: the same wordsim353.tsv and evaluation code"

    # another analogy file: the gate's score still compares, the analogies are left out
    scores, _ = versions.recorded_scores(_tags(**{"benchmark_questions-words_sha256": "old"}), _tags(),
                                         "wordsim353_spearman", names)
    assert "analogy_30000_accuracy" not in scores and "wordsim353_spearman" in scores

    for champion, said in [
        (_tags(benchmark_wordsim353_sha256="old"), "its wordsim353_spearman was measured on another wordsim353.tsv"),
        (_tags(**{versions.EVALUATION_CODE_TAG: "old"}), "or by other evaluation code than the challenger's"),
        ({k: v for k, v in _tags().items() if k != "benchmark_wordsim353_sha256"}, "measured on another"),
        ({k: v for k, v in _tags().items() if k != "wordsim353_spearman"}, "its version records no wordsim353_spearman"),
    ]:
        scores, why = versions.recorded_scores(champion, _tags(), "wordsim353_spearman", names)
        assert scores is None and said in why
