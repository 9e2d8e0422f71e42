"""The batched evaluation gives gensim's own numbers; neighbours are a table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gensim.test.utils import datapath

from tasks.embeddings import evaluation
from tasks.embeddings.config import EvaluateConfig
from tasks.embeddings.evaluation import WordVectors


@pytest.mark.parametrize("restrict_vocab", [200, 1_000, 300_000])
def test_analogies_match_gensims_evaluate_word_analogies(lee_vectors, restrict_vocab):
    ours = evaluation.analogy_accuracy(lee_vectors, restrict_vocab)
    score, sections = lee_vectors.to_keyed_vectors().evaluate_word_analogies(
        datapath("questions-words.txt"), restrict_vocab=restrict_vocab
    )
    theirs = {s["section"]: (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections}
    assert {r.section: (r.correct, r.answered) for r in ours.sections.itertuples()} == {
        k: v for k, v in theirs.items() if k != "Total accuracy"
    }
    assert ours.accuracy == pytest.approx(score) or (math.isnan(ours.accuracy) and score == 0)
    assert len(ours.sections) == 14 and ours.sections["total"].sum() == 19_544
    assert set(ours.sections["kind"]) == {"semantic", "syntactic"}


@pytest.mark.parametrize("dataset", ["wordsim353.tsv", "simlex999.txt"])
def test_pair_correlation_matches_gensims_evaluate_word_pairs(lee_vectors, dataset):
    ours = evaluation.pair_correlation(lee_vectors, dataset)
    pearson, spearman, oov_percent = lee_vectors.to_keyed_vectors().evaluate_word_pairs(datapath(dataset))
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-6)
    assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert ours.oov_share == pytest.approx(oov_percent / 100)


def test_pairs_with_no_known_word_give_nan_not_a_crash():
    wv = WordVectors(("zzz", "yyy"), np.array([2, 1]), np.eye(2, dtype=np.float32))
    score = evaluation.pair_correlation(wv, "wordsim353.tsv")
    assert math.isnan(score.spearman) and score.pairs == 0 and score.oov_share == 1.0


def test_nearest_neighbours_table():
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    wv = WordVectors(("a", "b", "c", "d"), np.array([4, 3, 2, 1]), vectors)
    table = evaluation.nearest_neighbours(wv, ["a", "missing"], topn=2)
    assert table[["probe", "rank"]].values.tolist() == [["a", 1], ["a", 2], ["missing", 0]]
    assert table["neighbour"].iloc[:2].tolist() == ["b", "c"] and table["neighbour"].isna().iloc[2]
    assert table["similarity"].iloc[0] == pytest.approx(0.9 / np.hypot(0.9, 0.1))


def test_evaluate_vectors_reports_each_measurement_as_it_finishes(lee_vectors):
    done: list[tuple[int, str]] = []
    cfg = EvaluateConfig(restrict_vocab=1_000, probe_words=("police",))
    evaluation.evaluate_vectors(lee_vectors, cfg, on_step=lambda n, name: done.append((n, name)))
    assert done == [(1, "analogies (1,000 words)"), (2, "analogies (300,000 words)"), (3, "WordSim-353"),
                    (4, "SimLex-999"), (5, "neighbours")]
    assert evaluation.evaluation_steps(cfg) == 5


def test_evaluate_vectors_reports_flat_metrics(lee_vectors):
    report = evaluation.evaluate_vectors(lee_vectors, EvaluateConfig(restrict_vocab=1_000, probe_words=("police",)))
    metrics = report.metrics()
    assert {"analogy_1000_accuracy", "analogy_300000_semantic", "wordsim353_spearman", "simlex999_oov_share"} <= set(metrics)
    assert 0 < metrics["analogy_1000_oov_share"] <= 1
    assert report.neighbours["probe"].eq("police").sum() == 10
    assert list(report.analogy_sections()["restrict_vocab"].unique()) == [1_000, 300_000]


def test_word_vectors_round_trip_through_keyed_vectors(lee_vectors):
    again = WordVectors.from_keyed_vectors(lee_vectors.to_keyed_vectors())
    assert again.words == lee_vectors.words
    np.testing.assert_array_equal(again.counts, lee_vectors.counts)
    np.testing.assert_array_equal(again.vectors, lee_vectors.vectors)
    with pytest.raises(ValueError, match=r"words \(1\), counts \(2\) and vectors \(2\) must have one entry per word"):
        WordVectors(("a",), np.array([1, 2]), np.zeros((2, 3), dtype=np.float32))
