"""The steps layer's own rules, checked without Prefect's engine or MLflow: config loading, cache keys,
the backend table, the vectors' Parquet round trip and the checks made before any run opens."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from tasks import storage
from tasks.config import RunConfig, TrackingConfig, describe_schema, load_config
from tasks.embeddings import projection, steps, tables
from tasks.embeddings.config import BACKENDS, CorpusConfig, EmbedConfig, TokenizeConfig
from tasks.embeddings.evaluation import WordVectors
from tasks.embeddings.records import CorpusRef, TokensRef, VocabularyRef
from tasks.errors import InputError


def test_embed_config_is_a_run_config_loaded_like_every_flows(tmp_path):
    assert issubclass(EmbedConfig, RunConfig) and isinstance(EmbedConfig().tracking, TrackingConfig)
    preset = tmp_path / "embed.toml"
    preset.write_text(
        '[corpus]\npath = "reviews.tsv.gz"\nmax_documents = "off"\n'
        '[tokenize]\nstop_words = ["the", "a"]\n[evaluate]\nprobe_words = "good,bad"\n', encoding="utf-8"
    )
    cfg = load_config(EmbedConfig, preset, ["model.architecture=cbow", "tokenize.stop_words=off"])
    assert str(cfg.corpus.path) == "reviews.tsv.gz" and cfg.corpus.max_documents is None
    assert cfg.tokenize.stop_words == () and cfg.evaluate.probe_words == ("good", "bad")
    assert cfg.model.sg == 0 and cfg.tracking.experiment == "seqflow-embed"


def test_every_setting_has_its_comment():
    rows = describe_schema(EmbedConfig)
    assert [key for key, _, _, comment in rows if not comment] == []
    assert ("corpus.path", "data/text8-prefix.gz", "data/text8-prefix.gz",
            "text, .gz, .bz2, a directory of .txt files, or a .tsv/.csv; default: the shipped text8 prefix "
            "(Wikipedia, 2.1 M tokens); off = gensim's small lee_background.cor") in rows


def test_an_empty_corpus_path_is_refused():
    with pytest.raises(InputError, match=r"corpus.path = '': an empty path names no corpus"):
        load_config(EmbedConfig, None, ['corpus.path=""'])


def _corpus(tmp_path, name="a.txt", text="one two three\n"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return steps.hash_corpus.fn(CorpusConfig(path=tmp_path / name))


def test_corpus_identity_is_its_bytes_and_names_not_its_place(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    here, there = _corpus(tmp_path / "x"), _corpus(tmp_path / "y")
    assert here.content_hash == there.content_hash and here.name == "a.txt"
    assert _corpus(tmp_path / "y", text="one two four\n").content_hash != here.content_hash
    assert _corpus(tmp_path / "y", name="a.tsv").content_hash != here.content_hash


def test_the_tokens_key_ignores_what_only_shapes_the_vocabulary_or_training(tmp_path):
    corpus, cfg = _corpus(tmp_path), CorpusConfig()
    key = steps._tokens_key(corpus, cfg, TokenizeConfig())
    for change in ({"sample": 0.0}, {"min_count": 1}, {"max_vocab_size": 10}):
        assert steps._tokens_key(corpus, cfg, TokenizeConfig(**change)) == key
    for change in ({"lowercase": False}, {"phrases": True}, {"english_stop_words": True}):
        assert steps._tokens_key(corpus, cfg, TokenizeConfig(**change)) != key
    assert steps._tokens_key(corpus, CorpusConfig(max_documents=3), TokenizeConfig()) != key
    assert set(steps.VOCABULARY_SETTINGS) <= set(TokenizeConfig.model_fields)


def test_every_backend_has_exactly_one_trainer():
    assert sorted(steps.TRAINERS) == sorted(BACKENDS)


def test_vectors_parquet_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    wv = WordVectors(("a", "b", "c"), np.array([5, 3, 1]), rng.normal(size=(3, 4)).astype(np.float32))
    path = storage.write_frame(projection.vectors_frame(wv), tmp_path / "vectors.parquet")
    back = steps.read_vectors(path)
    assert back.words == wv.words
    np.testing.assert_array_equal(back.counts, wv.counts)
    np.testing.assert_array_equal(back.vectors, wv.vectors)
    assert back.vectors.dtype == np.float32


def test_neighbours_as_markdown():
    table = pd.DataFrame(
        [{"probe": "cat", "rank": 1, "neighbour": "dog", "similarity": 0.912, "count": 3},
         {"probe": "cat", "rank": 2, "neighbour": "cow", "similarity": 0.5, "count": 2},
         {"probe": "zebra", "rank": 0, "neighbour": None, "similarity": float("nan"), "count": 0}]
    )
    assert tables.neighbours_markdown(table).splitlines()[2:] == [
        "| cat | dog (0.91), cow (0.50) |", "| zebra | not in the vocabulary |"]


def _vocabulary(n_words: int) -> VocabularyRef:
    corpus = CorpusRef("c.txt", "c.txt", (), "h")
    tokens = TokensRef("t", "w", "h", corpus, 1, 1, 100, 50, 0, 1.0)
    return VocabularyRef("v", "i", "h", tokens, n_words, 90)


def test_a_vocabulary_smaller_than_the_perplexity_is_refused():
    cfg = EmbedConfig()
    steps.check_vocabulary(_vocabulary(31), cfg)
    with pytest.raises(InputError) as exc:
        steps.check_vocabulary(_vocabulary(30), cfg)
    assert str(exc.value) == (
        "evaluate.perplexity = 30.0: needs more words than that for t-SNE, but the vocabulary has 30 "
        "(tokenize.min_count = 5); lower evaluate.perplexity or tokenize.min_count, or use a larger corpus"
    )


def test_exact_repeats_without_their_conditions_are_refused(monkeypatch):
    cfg = load_config(EmbedConfig, None, ["model.workers=1", "model.deterministic=true"])
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    steps.check_settings(cfg)
    monkeypatch.delenv("PYTHONHASHSEED")
    with pytest.raises(InputError, match=r"^model.deterministic = true needs a fixed PYTHONHASHSEED \(it is unset\)"):
        steps.check_settings(cfg)


def test_the_backend_comparison_table():
    rows = ({"backend": "gensim", "words_per_second": 300_000.0, "train_seconds": 10.0,
             "analogy_30000_accuracy": 0.313, "wordsim353_spearman": 0.5, "simlex999_spearman": 0.33,
             "tsne_trustworthiness": 0.9},
            {"backend": "tf", "words_per_second": 150_000.0, "train_seconds": 20.0,
             "analogy_30000_accuracy": 0.3, "wordsim353_spearman": 0.49, "simlex999_spearman": 0.32,
             "tsne_trustworthiness": 0.91})
    lines = tables.comparison_markdown(rows).splitlines()
    assert lines[0] == ("| backend | effective words/s | train s | analogy (30k) | WS353 ρ | SimLex ρ | t-SNE trust. "
                        "| words/s vs first |")
    assert lines[3] == "| tf | 150,000 | 20.0 | 30.0% | 0.490 | 0.320 | 0.910 | 0.50x |"
