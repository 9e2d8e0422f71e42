"""Skip-gram training data as NumPy arrays: subsampling, dynamic windows, shuffled (centre, context) batches.

The TensorFlow backend (:mod:`tasks.embeddings.tf_w2v`) trains on what this module makes; nothing here
imports TensorFlow, Prefect, MLflow or storage. The steps layer streams the token-id Parquet and hands
its batches of documents (one int array of vocabulary ids per chunk) to :func:`iter_pair_blocks`, so a
corpus larger than memory works: only one block of documents and its pairs are held at a time.

What happens to one block of documents, every step a whole-array operation (no Python loop per token
or per pair; the one loop runs over the ``2 * context_window`` offsets):

1. **Subsampling** (word2vec's, with gensim's formula): each token is kept with probability
   ``(sqrt(f / (sample * total)) + 1) * (sample * total) / f`` (capped at 1), ``f`` its word's count
   and ``total`` the vocabulary's tokens; dropped tokens are removed *before* windows are formed, so
   a window reaches past them, as in word2vec and gensim.
2. **Dynamic window**: each kept token draws ``b`` uniformly from ``0 .. context_window - 1`` and
   pairs with the tokens at most ``context_window - b`` positions away in its own chunk: nearer
   words are paired more often, as word2vec's "reduced window" does.
3. **Pairs** ``(centre, context)`` of every token with every token its window reaches.
4. **Shuffle** the block's pairs (one permutation per block), so that an SGD batch mixes documents.

:func:`batched` then cuts the stream of blocks into ``(n_batches, batch_size)`` arrays with each
batch's training progress (for the linearly decaying learning rate), carrying a block's remainder
into the next; only the last batch of an epoch may be shorter (cut to a multiple of the noise
group, so at most ``noise_group - 1`` pairs an epoch are left out).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Return the probability that subsampling keeps a token of each word, word2vec's (and gensim's) formula.

    ``keep = (sqrt(f / t) + 1) * t / f``, capped at 1, with ``t = sample * total``: a word seen
    ``t`` times is kept with probability 2 (so always), one seen ``100 t`` times with ~0.11.

    Args:
        counts: corpus count of each vocabulary word, ``(n_words,)``.
        sample: the threshold (``tokenize.sample``); 0 keeps every token.

    Returns:
        ``(n_words,)`` float64 in ``(0, 1]``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum((np.sqrt(counts / threshold) + 1.0) * threshold / counts, 1.0)


def noise_distribution(counts: np.ndarray, exponent: float = 0.75) -> np.ndarray:
    """Return word2vec's noise distribution ``Pn(w) ∝ count(w) ** exponent``, normalised, ``(n_words,)`` float64."""
    weights = np.asarray(counts, dtype=np.float64) ** exponent
    return weights / weights.sum()


def skipgram_pairs(
    ids: np.ndarray,
    lengths: np.ndarray,
    context_window: int,
    keep: np.ndarray | None,
    rng: np.random.Generator,
    *,
    reduce_windows: bool = True,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Subsample a block of chunks and return all its (centre, context) pairs, in no particular order.

    Args:
        ids: the chunks' vocabulary ids one after another, ``(n_tokens,)`` int.
        lengths: tokens of each chunk, ``(n_chunks,)``; they sum to ``n_tokens``.
        context_window: the widest reach from centre to context.
        keep: keep probability of each word (:func:`keep_probabilities`), ``(n_words,)``; ``None``
            keeps every token.
        rng: draws the subsampling and the reduced windows.
        reduce_windows: draw a reduced window per centre token (word2vec); ``False`` pairs every
            token with all tokens ``context_window`` away (the hand-checkable case).

    Returns:
        ``(centres, contexts, n_kept)``: two ``(n_pairs,)`` int32 arrays, and how many tokens
        subsampling kept (word2vec's "effective words").
    """
    ids = np.asarray(ids)
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.sum() != len(ids):
        raise ValueError(f"skipgram_pairs: lengths sum to {int(lengths.sum())}, but there are {len(ids)} ids")
    chunk = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)  # (n_tokens,) chunk of each token
    if keep is not None:
        kept = rng.random(len(ids)) < keep[ids]
        ids, chunk = ids[kept], chunk[kept]
    n = len(ids)
    if reduce_windows:
        reach = context_window - rng.integers(0, context_window, n, dtype=np.int64)  # (n,) in 1..window
    else:
        reach = np.full(n, context_window, dtype=np.int64)
    centres: list[np.ndarray] = []
    contexts: list[np.ndarray] = []
    for offset in range(1, min(context_window, max(n - 1, 0)) + 1):
        left, right = ids[:-offset], ids[offset:]  # token i and token i + offset
        same = chunk[:-offset] == chunk[offset:]
        forward = same & (reach[:-offset] >= offset)  # i's window reaches i + offset
        backward = same & (reach[offset:] >= offset)  # i + offset's window reaches i
        centres += [left[forward], right[backward]]
        contexts += [right[forward], left[backward]]
    if not centres:
        empty = np.empty(0, dtype=np.int32)
        return empty, empty, n
    return (np.concatenate(centres).astype(np.int32, copy=False),
            np.concatenate(contexts).astype(np.int32, copy=False), n)


@dataclass(frozen=True)
class PairBlock:
    """The shuffled pairs of one block of chunks.

    Attributes:
        centres: ``(n_pairs,)`` int32 vocabulary ids of the centre words.
        contexts: ``(n_pairs,)`` int32 ids of the context words.
        raw_words: in-vocabulary tokens the block holds (word2vec's progress counts these).
        effective_words: tokens subsampling kept.
        seconds: wall time spent making the block (the profile's "pair generation").
    """

    centres: np.ndarray
    contexts: np.ndarray
    raw_words: int
    effective_words: int
    seconds: float


def iter_pair_blocks(
    batches: Iterable[Sequence[np.ndarray]],
    context_window: int,
    keep: np.ndarray | None,
    rng: np.random.Generator,
    *,
    reduce_windows: bool = True,
) -> Iterator[PairBlock]:
    """Turn a stream of document batches into shuffled pair blocks, one block per batch.

    Args:
        batches: each an iterable of chunks, a chunk an int array of vocabulary ids (a token-id
            Parquet row group's ``ids`` column).
        context_window: the widest reach from centre to context.
        keep: keep probability per word, or ``None`` (no subsampling).
        rng: draws subsampling, reduced windows and the shuffle, in stream order.
        reduce_windows: see :func:`skipgram_pairs`.
    """
    for batch in batches:
        began = time.perf_counter()
        rows = [np.asarray(r) for r in batch]
        if not rows:
            continue
        lengths = np.fromiter((len(r) for r in rows), np.int64, len(rows))
        ids = np.concatenate(rows) if lengths.sum() else np.empty(0, dtype=np.int32)
        centres, contexts, kept = skipgram_pairs(ids, lengths, context_window, keep, rng,
                                                 reduce_windows=reduce_windows)
        order = rng.permutation(len(centres))
        yield PairBlock(centres[order], contexts[order], len(ids), kept, time.perf_counter() - began)


@dataclass(frozen=True)
class Batches:
    """Consecutive SGD batches of pairs, handed to the trainer in one call.

    Attributes:
        centres: ``(n_batches, batch_size)`` int32.
        contexts: ``(n_batches, batch_size)`` int32.
        progress: ``(n_batches,)`` float64, the share of this epoch's raw words read when each
            batch's first pair was made (0 → 1 over an epoch).
        raw_words: raw words of the blocks that completed here (summed over an epoch: all of them).
        effective_words: kept words of those blocks.
        pair_seconds: time spent making those blocks.
    """

    centres: np.ndarray
    contexts: np.ndarray
    progress: np.ndarray
    raw_words: int
    effective_words: int
    pair_seconds: float

    @property
    def n_pairs(self) -> int:
        """Pairs in all the batches."""
        return int(self.centres.size)


def batched(blocks: Iterable[PairBlock], batch_size: int, total_raw_words: int, group: int = 1) -> Iterator[Batches]:
    """Cut pair blocks into whole batches, carrying each block's remainder into the next.

    Args:
        blocks: one epoch's pair blocks.
        batch_size: pairs per batch.
        total_raw_words: raw words one epoch holds (the progress denominator).
        group: the last, shorter batch is cut to a multiple of this (the trainer's noise group); the
            fewer than ``group`` pairs past it are left out.
    """
    if batch_size % group:
        raise ValueError(f"batched: batch_size = {batch_size} must be a multiple of group = {group}")
    total = max(int(total_raw_words), 1)
    done = 0
    pending_c = pending_x = pending_p = np.empty(0)
    for block in blocks:
        n = len(block.centres)
        # Progress of each pair: linear over the block, from the words read before it to after it.
        progress = (done + np.arange(n, dtype=np.float64) * (block.raw_words / max(n, 1))) / total
        done += block.raw_words
        centres = np.concatenate((pending_c, block.centres)) if len(pending_c) else block.centres
        contexts = np.concatenate((pending_x, block.contexts)) if len(pending_x) else block.contexts
        progress = np.concatenate((pending_p, progress)) if len(pending_p) else progress
        whole = len(centres) - len(centres) % batch_size
        pending_c, pending_x, pending_p = centres[whole:], contexts[whole:], progress[whole:]
        yield Batches(centres[:whole].reshape(-1, batch_size).astype(np.int32, copy=False),
                      contexts[:whole].reshape(-1, batch_size).astype(np.int32, copy=False),
                      progress[:whole:batch_size], block.raw_words, block.effective_words, block.seconds)
    tail = len(pending_c) - len(pending_c) % group
    if tail:
        yield Batches(pending_c[None, :tail].astype(np.int32, copy=False),
                      pending_x[None, :tail].astype(np.int32, copy=False), pending_p[:1], 0, 0, 0.0)


def learning_rates(progress: np.ndarray, epoch: int, epochs: int, alpha: float, min_alpha: float) -> np.ndarray:
    """word2vec's linear decay: ``alpha`` at the start of training → ``min_alpha`` at the end, ``(n,)`` float32.

    Args:
        progress: share of the epoch done at each batch, ``(n,)``.
        epoch: 0-based epoch.
        epochs: epochs in all.
        alpha: the starting rate.
        min_alpha: the rate at the end of the last epoch.
    """
    done = (epoch + np.asarray(progress, dtype=np.float64)) / epochs
    return np.maximum(alpha - (alpha - min_alpha) * done, min_alpha).astype(np.float32)


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Yield ``items`` while a background thread makes the next ``depth`` of them.

    NumPy releases the GIL in its array work and TensorFlow in its ops, so the next block's pairs
    are made while the trainer works on this one. The order is the stream's order, so the results
    do not depend on timing. An exception in the thread is raised here; closing this generator
    stops the thread at its next item.
    """
    done = object()
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                box.put(item)
            box.put(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            box.put(exc)

    worker = threading.Thread(target=produce, name="skipgram-pairs", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                box.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
