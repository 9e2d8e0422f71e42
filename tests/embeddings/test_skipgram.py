"""The skip-gram training data (pure NumPy): pairs by hand, subsampling, noise, batching, prefetch."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.embeddings import skipgram


def _pairs(centres, contexts) -> list[tuple[int, int]]:
    return sorted(zip(centres.tolist(), contexts.tolist()))


def test_pairs_of_a_fixed_window_by_hand():
    # Two chunks, [10 11 12 13] and [14 15], context window 2, nothing subsampled: every token pairs
    # with the tokens at most 2 away in its own chunk, never across the chunk boundary.
    ids = np.array([10, 11, 12, 13, 14, 15])
    centres, contexts, kept = skipgram.skipgram_pairs(ids, np.array([4, 2]), 2, None, np.random.default_rng(0),
                                                      reduce_windows=False)
    assert kept == 6
    assert _pairs(centres, contexts) == [
        (10, 11), (10, 12),
        (11, 10), (11, 12), (11, 13),
        (12, 10), (12, 11), (12, 13),
        (13, 11), (13, 12),
        (14, 15), (15, 14),
    ]
    assert centres.dtype == contexts.dtype == np.int32


def test_reduced_windows_pair_nearer_words_more_often():
    # word2vec's dynamic window: the context at distance d is reached with probability (w - d + 1) / w.
    n, window = 200_000, 4
    ids = np.arange(n)
    centres, contexts, _ = skipgram.skipgram_pairs(ids, np.array([n]), window, None, np.random.default_rng(1))
    distance = np.abs(centres.astype(np.int64) - contexts)
    share = np.array([(distance == d).sum() for d in range(1, window + 1)]) / (2 * (n - 1))
    np.testing.assert_allclose(share, [(window - d + 1) / window for d in range(1, window + 1)], atol=0.01)
    fixed, _, _ = skipgram.skipgram_pairs(ids[:50], np.array([50]), window, None, np.random.default_rng(1),
                                          reduce_windows=False)
    assert len(fixed) == 2 * sum(50 - d for d in range(1, window + 1))


def test_subsampling_removes_tokens_before_windows_are_formed():
    # Word 0 is never kept: the window of 1 then reaches across where it was.
    ids = np.array([1, 0, 2])
    keep = np.array([0.0, 1.0, 1.0])
    centres, contexts, kept = skipgram.skipgram_pairs(ids, np.array([3]), 1, keep, np.random.default_rng(0),
                                                      reduce_windows=False)
    assert kept == 2
    assert _pairs(centres, contexts) == [(1, 2), (2, 1)]


def test_keep_probabilities_follow_word2vecs_formula_and_gensims_numbers():
    counts = np.array([10_000, 1_000, 100, 10, 1])
    sample = 1e-3
    t = sample * counts.sum()  # 11.111
    expected = np.minimum((np.sqrt(counts / t) + 1) * t / counts, 1)
    np.testing.assert_allclose(skipgram.keep_probabilities(counts, sample), expected)
    assert skipgram.keep_probabilities(counts, sample)[0] == pytest.approx((np.sqrt(10_000 / t) + 1) * t / 10_000)
    assert skipgram.keep_probabilities(counts, sample)[-2:].tolist() == [1.0, 1.0]
    assert skipgram.keep_probabilities(counts, 0).tolist() == [1.0] * 5

    from gensim.models import Word2Vec

    model = Word2Vec(vector_size=4, min_count=1, sample=sample, seed=1)
    model.build_vocab_from_freq({f"w{i}": int(c) for i, c in enumerate(counts)})
    gensim_keep = np.array([model.wv.get_vecattr(f"w{i}", "sample_int") for i in range(5)]) / 2**32
    np.testing.assert_allclose(skipgram.keep_probabilities(counts, sample), gensim_keep, atol=1e-9)


def test_noise_distribution_is_unigram_to_the_three_quarters_normalised():
    counts = np.array([16, 1, 81])
    p = skipgram.noise_distribution(counts)
    np.testing.assert_allclose(p, np.array([8, 1, 27]) / 36)
    np.testing.assert_allclose(skipgram.noise_distribution(counts, 1.0), counts / 98)


def test_blocks_and_batches_keep_every_pair_and_its_progress():
    rng = np.random.default_rng(3)
    batches = [[np.arange(30) % 7, np.arange(12) % 7], [np.arange(50) % 7]]
    blocks = list(skipgram.iter_pair_blocks(batches, 3, None, rng, reduce_windows=False))
    assert [b.raw_words for b in blocks] == [42, 50]
    every = _pairs(np.concatenate([b.centres for b in blocks]), np.concatenate([b.contexts for b in blocks]))
    cut = list(skipgram.batched(iter(blocks), batch_size=16, total_raw_words=92, group=4))
    assert all(c.centres.shape[1] == 16 for c in cut[:-1]) and cut[-1].centres.shape[1] % 4 == 0
    got = _pairs(np.concatenate([c.centres.ravel() for c in cut]), np.concatenate([c.contexts.ravel() for c in cut]))
    n_all = len(every)
    assert n_all - len(got) == n_all % 4  # only the last few pairs past a whole group are left out
    assert set(got) <= set(every)
    progress = np.concatenate([c.progress for c in cut])
    assert np.all(np.diff(progress) > 0) and progress[0] == 0 and progress[-1] < 1
    assert sum(c.raw_words for c in cut) == 92


def test_learning_rate_decays_linearly_over_all_epochs():
    rates = skipgram.learning_rates(np.array([0.0, 0.5]), epoch=1, epochs=2, alpha=0.025, min_alpha=0.0001)
    np.testing.assert_allclose(rates, [0.025 - 0.0249 * 0.5, 0.025 - 0.0249 * 0.75], rtol=1e-6)
    assert skipgram.learning_rates(np.array([1.0]), 1, 2, 0.025, 0.0001)[0] == pytest.approx(0.0001)


def test_prefetch_keeps_the_order_and_raises_the_producers_error():
    assert list(skipgram.prefetch(iter(range(100)), depth=2)) == list(range(100))

    def broken():
        yield 1
        raise RuntimeError("disk gone")

    got = skipgram.prefetch(broken())
    assert next(got) == 1
    with pytest.raises(RuntimeError, match="disk gone"):
        next(got)
