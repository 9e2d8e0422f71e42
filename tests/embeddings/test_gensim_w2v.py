"""gensim training through the restartable stream: related words end nearer; hooks; repeats."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tasks.embeddings import gensim_w2v, text
from tasks.embeddings.config import ModelConfig
from tasks.embeddings.gensim_w2v import determinism_problem, train_word2vec
from tasks.embeddings.text import RestartableTokens, TokenChunk, VocabularyCounter

ANIMALS = ["cat", "dog", "pet", "fur", "paw", "tail", "kitten", "puppy"]
MONEY = ["bank", "money", "loan", "cash", "credit", "interest", "deposit", "account"]
GLUE = ["the", "a", "and", "of", "with", "my", "his", "her"]


def _topic_corpus(n_sentences=600, seed=0) -> list[TokenChunk]:
    """Sentences about one topic each: words of a topic share contexts, the two topics never do."""
    rng = random.Random(seed)
    chunks = []
    for i in range(n_sentences):
        topic = ANIMALS if i % 2 else MONEY
        chunks.append(TokenChunk(i, [rng.choice(topic if j % 2 else GLUE) for j in range(12)]))
    return chunks


def _train(chunks, **model):
    counter = VocabularyCounter()
    list(counter.observe(chunks))
    vocabulary = text.vocabulary_frame(counter.counts, min_count=1)
    stream = RestartableTokens(lambda: [[c.tokens for c in chunks]])
    cfg = ModelConfig(**{"vector_size": 16, "context_window": 2, "epochs": 10, "workers": 1, **model})
    return train_word2vec(stream, vocabulary, counter.n_chunks, counter.n_tokens, cfg, sample=0, seed=3)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_related_words_end_nearer_than_unrelated_ones(architecture):
    kv = _train(_topic_corpus(), architecture=architecture).vectors
    for a, b, other in [("cat", "dog", "bank"), ("money", "cash", "puppy"), ("loan", "credit", "fur")]:
        assert kv.similarity(a, b) > kv.similarity(a, other) + 0.2, (a, b, other)


def test_hierarchical_softmax_trains_too():
    kv = _train(_topic_corpus(), negative=0, hs=True).vectors
    assert kv.similarity("cat", "dog") > kv.similarity("cat", "bank")


def test_epoch_hook_gets_per_epoch_loss_and_words_per_second():
    seen = []
    chunks = _topic_corpus()
    counter = VocabularyCounter()
    list(counter.observe(chunks))
    stream = RestartableTokens(lambda: [[c.tokens for c in chunks]])
    cfg = ModelConfig(vector_size=8, epochs=3, workers=1)
    trained = train_word2vec(
        stream, dict(counter.counts), counter.n_chunks, counter.n_tokens, cfg, sample=0, seed=0,
        on_epoch_end=lambda epoch, logs: seen.append((epoch, logs)),
    )
    assert [epoch for epoch, _ in seen] == [0, 1, 2]
    assert all(set(logs) == {"loss", "words_per_second"} for _, logs in seen)
    assert [logs["loss"] for _, logs in seen] == [e.loss for e in trained.epochs]
    # Per-epoch differences of gensim's cumulative loss, not the running total (that would triple).
    assert all(e.loss > 0 for e in trained.epochs)
    assert trained.epochs[-1].loss < 2 * trained.epochs[0].loss
    # The private gensim hook still reports counts: with sample=0 every in-vocabulary word is trained.
    assert [e.effective_words for e in trained.epochs] == [counter.n_tokens] * 3
    assert [e.raw_words for e in trained.epochs] == [counter.n_tokens] * 3
    assert trained.words_per_second > 0 and trained.effective_words == 3 * counter.n_tokens


def test_corpus_file_mode_gives_the_same_kind_of_vectors(tmp_path):
    chunks = _topic_corpus()
    counter = VocabularyCounter()
    list(counter.observe(chunks))
    path = gensim_w2v.write_line_sentences((c.tokens for c in chunks), tmp_path / "corpus.txt")
    assert path.read_text(encoding="utf-8").splitlines()[0] == " ".join(chunks[0].tokens)
    cfg = ModelConfig(vector_size=16, context_window=2, epochs=10, workers=1)
    trained = train_word2vec(None, dict(counter.counts), counter.n_chunks, counter.n_tokens, cfg,
                             sample=0, seed=3, corpus_file=path)
    assert trained.vectors.similarity("cat", "dog") > trained.vectors.similarity("cat", "bank")
    assert trained.effective_words > 0


def test_one_worker_and_a_seed_repeat_exactly():
    first, second = _train(_topic_corpus()).vectors, _train(_topic_corpus()).vectors
    assert first.index_to_key == second.index_to_key
    np.testing.assert_array_equal(first.vectors, second.vectors)


def test_exactly_one_corpus_source():
    with pytest.raises(ValueError, match=r"give exactly one of sentences and corpus_file"):
        train_word2vec(None, {"a": 1}, 1, 1, ModelConfig(), sample=0, seed=0)
    with pytest.raises(ValueError, match=r"the vocabulary is empty"):
        train_word2vec([["a"]], {}, 1, 1, ModelConfig(), sample=0, seed=0)


def test_determinism_problem_says_how():
    assert determinism_problem(ModelConfig(), {}) is None  # not asked for
    cfg = ModelConfig(deterministic=True, workers=1)
    assert determinism_problem(cfg, {"PYTHONHASHSEED": "0"}) is None
    assert determinism_problem(cfg, {}) == (
        "model.deterministic = true needs a fixed PYTHONHASHSEED (it is unset); run for example "
        "`PYTHONHASHSEED=0 seqflow run embed --set model.workers=1 --set model.deterministic=true`"
    )
    threads = ModelConfig.model_construct(**{**cfg.model_dump(), "workers": 4})  # bypasses the validator
    assert determinism_problem(threads, {"PYTHONHASHSEED": "random"}) == (
        "model.deterministic = true needs model.workers = 1 (got 4) and a fixed PYTHONHASHSEED (it is 'random'); "
        "run for example `PYTHONHASHSEED=0 seqflow run embed --set model.workers=1 --set model.deterministic=true`"
    )


_REPEAT_SCRIPT = """
import hashlib, random
from tasks.embeddings.config import ModelConfig
from tasks.embeddings.gensim_w2v import train_word2vec
from tasks.embeddings.text import RestartableTokens
rng = random.Random(0)
words = [f"w{i}" for i in range(200)]
docs = [[rng.choice(words) for _ in range(30)] for _ in range(300)]
counts = {}
for doc in docs:
    for w in doc:
        counts[w] = counts.get(w, 0) + 1
cfg = ModelConfig(vector_size=16, epochs=2, workers=1, deterministic=True)
kv = train_word2vec(RestartableTokens(lambda: [docs]), counts, len(docs), 9000, cfg, sample=1e-3, seed=5).vectors
print(hashlib.sha256(kv.vectors.tobytes()).hexdigest())
"""


def test_a_different_hash_seed_gives_the_same_vectors_on_this_gensim():
    """Records what gensim 4 does: one worker and a seed repeat exactly whatever PYTHONHASHSEED is."""
    root = Path(__file__).resolve().parents[2]
    digests = set()
    for hashseed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(root)}
        proc = subprocess.run([sys.executable, "-c", _REPEAT_SCRIPT], capture_output=True, text=True, env=env, cwd=root)
        assert proc.returncode == 0, proc.stderr[-2000:]
        digests.add(proc.stdout.strip())
    assert len(digests) == 1


def test_per_job_loss_harvest_adds_up_to_gensims_own_total_on_a_small_corpus():
    """One worker, a corpus too small for float32 to saturate: our float64 sum equals gensim's total."""
    from gensim.models import Word2Vec

    chunks = _topic_corpus(n_sentences=2_000)  # several 10,000-word jobs per epoch
    counter = VocabularyCounter()
    list(counter.observe(chunks))
    counts = dict(text.vocabulary_frame(counter.counts, 1).itertuples(index=False, name=None))
    cfg = ModelConfig(vector_size=8, epochs=2, workers=1)
    ours = train_word2vec(RestartableTokens(lambda: [[c.tokens for c in chunks]]), counts, counter.n_chunks,
                          counter.n_tokens, cfg, sample=0, seed=4)
    plain = Word2Vec(sg=1, vector_size=8, window=5, negative=5, epochs=2, workers=1, min_count=1, sample=0, seed=4,
                     compute_loss=True)
    plain.build_vocab_from_freq(counts, corpus_count=counter.n_chunks)
    plain.train([c.tokens for c in chunks], total_examples=counter.n_chunks, epochs=2, compute_loss=True)
    np.testing.assert_array_equal(ours.vectors.vectors, plain.wv.vectors)  # the hooks change nothing else
    # gensim's one float32 total already drifts at 6e5 (its step there is 1/16, each pair adds ~0.5):
    # the per-job sums agree to 0.1 %, and are the more precise of the two.
    assert sum(e.loss for e in ours.epochs) == pytest.approx(plain.get_latest_training_loss(), rel=1e-3)


def test_gensim_still_calls_the_private_methods_we_hook(monkeypatch):
    """If a gensim upgrade renames them, per-epoch loss and word counts would silently go wrong."""
    from gensim.models import Word2Vec

    calls = {"_do_train_job": 0, "_log_epoch_progress": 0}
    for name in calls:
        original = getattr(Word2Vec, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Word2Vec, name, spy)
    _train(_topic_corpus(n_sentences=50), epochs=2)
    assert calls["_do_train_job"] >= 2 and calls["_log_epoch_progress"] == 2
