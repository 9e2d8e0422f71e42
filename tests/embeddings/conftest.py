"""One small model trained once per session on gensim's bundled Lee corpus (never on the benchmark datasets)."""

from __future__ import annotations

import os

# Spinning OpenMP threads make scikit-learn's t-SNE ~10x slower when the cores are busy with other
# work (measured on this shared 2-core machine); set before scikit-learn loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402

from tasks.embeddings import corpus, evaluation, gensim_w2v, text  # noqa: E402
from tasks.embeddings.config import CorpusConfig, ModelConfig, TokenizeConfig  # noqa: E402


@pytest.fixture(scope="session")
def lee_vectors() -> evaluation.WordVectors:
    """Skip-gram vectors of the 300-document Lee background corpus (min_count 2, one worker, seeded)."""
    tokenize = TokenizeConfig(min_count=2)
    counter = text.VocabularyCounter()
    chunks = list(counter.observe(text.tokenize_documents(corpus.iter_documents(CorpusConfig(path=None)), tokenize)))
    vocabulary = text.vocabulary_frame(counter.counts, tokenize.min_count)
    stream = text.RestartableTokens(lambda: [[c.tokens for c in chunks]])
    trained = gensim_w2v.train_word2vec(
        stream, vocabulary, counter.n_chunks, counter.n_tokens,
        ModelConfig(vector_size=32, epochs=10, workers=1), sample=1e-3, seed=7,
    )
    return evaluation.WordVectors.from_keyed_vectors(trained.vectors)
