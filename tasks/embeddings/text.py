"""Documents → tokens → vocabulary, as generators: memory stays flat however large the corpus.

The pipeline a steps layer runs, one pass over the corpus::

    docs = corpus.iter_documents(cfg.corpus)
    chunks = tokenize_documents(docs, cfg.tokenize)           # (doc_id, tokens ≤ 10,000)
    chunks = apply_phrases(chunks, phraser)                   # optional, after learn_phrases (one more pass)
    counter = VocabularyCounter(); chunks = counter.observe(chunks)
    for frame in token_frames(chunks): write a row group      # doc_id, tokens
    vocabulary_frame(counter.counts, min_count, max_vocab_size)  # word, count

then one pass over the stored tokens, :func:`encode_token_frames` → ``doc_id, ids`` (the training
feed), and for training a :class:`RestartableTokens` over a callable that streams those again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from gensim.models.phrases import FrozenPhrases, Phrases
from gensim.parsing.preprocessing import STOPWORDS

from tasks.embeddings.config import MAX_SENTENCE_TOKENS, TokenizeConfig
from tasks.embeddings.corpus import Document
from tasks.errors import InputError


@dataclass(frozen=True, slots=True)
class TokenChunk:
    """At most ``MAX_SENTENCE_TOKENS`` consecutive tokens of one document (gensim's "sentence").

    Attributes:
        doc_id: the document the tokens come from; a long document gives several chunks.
        tokens: the tokens, in document order.
    """

    doc_id: int
    tokens: list[str]


def stop_word_set(cfg: TokenizeConfig) -> frozenset[str]:
    """Return the words tokenization drops: ``cfg.stop_words`` plus gensim's English list if asked."""
    words = set(cfg.stop_words)
    if cfg.english_stop_words:
        words |= STOPWORDS
    return frozenset(words)


def tokenize_text(text: str, cfg: TokenizeConfig) -> list[str]:
    """Return the tokens of one text: lowercased if asked, every match of the pattern, stop words out."""
    tokens = re.findall(cfg.token_pattern, text.lower() if cfg.lowercase else text)
    stop = stop_word_set(cfg)
    return [t for t in tokens if t not in stop] if stop else tokens


def split_tokens(tokens: list[str], max_tokens: int = MAX_SENTENCE_TOKENS) -> Iterator[list[str]]:
    """Yield consecutive slices of at most ``max_tokens`` tokens; together they are ``tokens`` exactly."""
    if max_tokens < 1:
        raise ValueError(f"split_tokens: max_tokens = {max_tokens} must be at least 1")
    for start in range(0, len(tokens), max_tokens):
        yield tokens[start : start + max_tokens]


def tokenize_documents(
    documents: Iterable[Document], cfg: TokenizeConfig, max_tokens: int = MAX_SENTENCE_TOKENS
) -> Iterator[TokenChunk]:
    """Tokenize a document stream into chunks of at most ``max_tokens`` tokens, none lost.

    gensim silently drops every token past its 10,000th in a sentence; a longer document is
    therefore split into consecutive chunks with the same ``doc_id``. Pieces of one document (see
    :mod:`tasks.embeddings.corpus`) are joined first, so a chunk may span pieces. Documents without
    any token give no chunk.

    Args:
        documents: documents in order; pieces of one document are consecutive.
        cfg: lowercase, token pattern and stop words.
        max_tokens: the longest chunk.
    """
    if max_tokens < 1:
        raise ValueError(f"tokenize_documents: max_tokens = {max_tokens} must be at least 1")
    find = re.compile(cfg.token_pattern).findall
    stop = stop_word_set(cfg)
    lowercase = cfg.lowercase
    current: int | None = None
    buffer: list[str] = []
    for doc in documents:
        if doc.doc_id != current:
            if buffer:
                yield from (TokenChunk(current, part) for part in split_tokens(buffer, max_tokens))
            current, buffer = doc.doc_id, []
        tokens = find(doc.text.lower() if lowercase else doc.text)
        if stop:
            tokens = [t for t in tokens if t not in stop]
        buffer = buffer + tokens if buffer else tokens
        # Flush whole chunks as they fill, so a 100 MB one-line document never sits in memory whole.
        if len(buffer) > max_tokens:
            full = len(buffer) - len(buffer) % max_tokens
            if full == len(buffer):
                full -= max_tokens  # keep the tail for the next piece to extend
            for start in range(0, full, max_tokens):
                yield TokenChunk(current, buffer[start : start + max_tokens])
            buffer = buffer[full:]
    if buffer:
        yield from (TokenChunk(current, part) for part in split_tokens(buffer, max_tokens))


def learn_phrases(token_lists: Iterable[Sequence[str]], cfg: TokenizeConfig) -> FrozenPhrases:
    """Learn frequent bigrams ("new york" → "new_york") from a token stream with gensim ``Phrases``.

    This is the one step whose memory grows with the corpus: gensim keeps bigram counts, pruned
    once they exceed its ``max_vocab_size`` (40 million entries).
    """
    phrases = Phrases(min_count=cfg.phrases_min_count, threshold=cfg.phrases_threshold)
    batch: list[Sequence[str]] = []
    for tokens in token_lists:
        batch.append(tokens)
        if len(batch) >= 1024:
            phrases.add_vocab(batch)
            batch = []
    if batch:
        phrases.add_vocab(batch)
    return phrases.freeze()


def apply_phrases(chunks: Iterable[TokenChunk], phraser: FrozenPhrases) -> Iterator[TokenChunk]:
    """Join the learnt phrases in each chunk (a chunk only gets shorter, so it stays within the limit)."""
    for chunk in chunks:
        yield TokenChunk(chunk.doc_id, phraser[chunk.tokens])


class VocabularyCounter:
    """Count words while passing chunks through, so one corpus pass stores tokens and counts them.

    Attributes:
        counts: every word seen and how often.
        n_chunks: chunks passed through (gensim's ``corpus_count``).
        n_tokens: tokens passed through (gensim's ``corpus_total_words``).
        n_documents: distinct documents passed through.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.n_chunks = 0
        self.n_tokens = 0
        self.n_documents = 0
        self._last_doc: int | None = None

    def observe(self, chunks: Iterable[TokenChunk]) -> Iterator[TokenChunk]:
        """Yield ``chunks`` unchanged, counting their words."""
        update = self.counts.update
        for chunk in chunks:
            update(chunk.tokens)
            self.n_chunks += 1
            self.n_tokens += len(chunk.tokens)
            if chunk.doc_id != self._last_doc:
                self.n_documents += 1
                self._last_doc = chunk.doc_id
            yield chunk


def vocabulary_frame(counts: Mapping[str, int], min_count: int, max_vocab_size: int | None = None) -> pd.DataFrame:
    """Return the vocabulary as a ``word, count`` frame, most frequent first (ties alphabetical).

    Args:
        counts: how often each word occurs.
        min_count: words seen fewer times are left out.
        max_vocab_size: keep at most this many words, the most frequent (after ``min_count``). Unlike
            gensim's option of the same name, this prunes once, exactly, after counting.

    Raises:
        InputError: no word occurs ``min_count`` times (nothing to train on).
    """
    words = [w for w, c in counts.items() if c >= min_count]
    if not words:
        raise InputError(
            f"no word occurs at least {min_count} times (the corpus has {len(counts)} distinct words); "
            "lower tokenize.min_count or use a larger corpus",
            key="tokenize.min_count",
            value=min_count,
        )
    frame = pd.DataFrame(
        {"word": pd.Series(words, dtype=object), "count": np.fromiter((counts[w] for w in words), np.int64, len(words))}
    )
    frame = frame.sort_values(["count", "word"], ascending=[False, True], kind="stable", ignore_index=True)
    if max_vocab_size is not None:
        frame = frame.iloc[:max_vocab_size].reset_index(drop=True)
    return frame


# Tokens a frame (one Parquet row group) holds at most. Rows alone do not bound memory: 2,048 chunks
# of a long document are 20 million tokens (a 200 MB one-line corpus peaked at 3.2 GB so). At about
# 60 bytes a str token, 2**19 tokens are ~30 MB in Python and as much again in Arrow.
FRAME_TOKENS = 1 << 19


def batch_rows(n_tokens: int, n_chunks: int, most: int) -> int:
    """Rows a batch read back from the token Parquet may hold to stay near :data:`FRAME_TOKENS` tokens.

    Args:
        n_tokens: tokens in the stored file.
        n_chunks: its rows (chunks).
        most: the row cap for short documents.
    """
    if n_chunks <= 0 or n_tokens <= 0:
        return most
    mean = -(-n_tokens // n_chunks)  # ceil: round the estimate towards fewer rows
    return max(1, min(most, FRAME_TOKENS // mean))


def token_frames(
    chunks: Iterable[TokenChunk], batch_rows: int = 2048, max_tokens: int = FRAME_TOKENS
) -> Iterator[pd.DataFrame]:
    """Group chunks into ``doc_id, tokens`` frames (one Parquet row group each), bounded in rows and tokens.

    Args:
        chunks: the token chunks, in order.
        batch_rows: the most rows a frame holds (many short documents).
        max_tokens: a frame is closed once it holds this many tokens (few long documents); a single
            chunk is never split, so a frame holds at most ``max_tokens`` plus one chunk's tokens.
    """
    ids: list[int] = []
    tokens: list[list[str]] = []
    held = 0
    for chunk in chunks:
        if ids and held + len(chunk.tokens) > max_tokens:
            yield _token_frame(ids, tokens)
            ids, tokens, held = [], [], 0
        ids.append(chunk.doc_id)
        tokens.append(chunk.tokens)
        held += len(chunk.tokens)
        if len(ids) >= batch_rows:
            yield _token_frame(ids, tokens)
            ids, tokens, held = [], [], 0
    if ids:
        yield _token_frame(ids, tokens)


def _token_frame(ids: list[int], tokens: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": np.asarray(ids, dtype=np.int64), "tokens": pd.Series(tokens, dtype=object)})


def encode_token_frames(frames: Iterable[pd.DataFrame], vocabulary: Sequence[str]) -> Iterator[pd.DataFrame]:
    """Turn ``doc_id, tokens`` frames into ``doc_id, ids`` frames for fast training passes.

    ``ids`` holds each token's row in ``vocabulary`` as int32; tokens outside the vocabulary are
    dropped (gensim skips them before it forms context windows, so training sees the same words).
    Reading ids back costs about a third of reading the strings: no str object is made per token,
    only references to the vocabulary's (measured on IMDB: 1.0 s against 3.3 s a pass).

    Args:
        frames: ``doc_id, tokens`` frames, e.g. streamed from the token Parquet.
        vocabulary: the words in vocabulary order (the ``word`` column of :func:`vocabulary_frame`).
    """
    index = pd.Index(list(vocabulary), dtype=object)
    if not index.is_unique:
        raise ValueError("encode_token_frames: the vocabulary lists a word twice")
    for frame in frames:
        rows = [np.asarray(t, dtype=object) for t in frame["tokens"].tolist()]
        lengths = np.fromiter((len(r) for r in rows), np.int64, len(rows))
        flat = np.concatenate(rows) if rows else np.empty(0, dtype=object)
        codes = index.get_indexer(flat)  # (n_tokens,) row in the vocabulary, -1 when absent
        keep = codes >= 0
        kept_before = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))  # (n_tokens + 1,)
        bounds = np.concatenate(([0], np.cumsum(lengths)))  # (n_rows + 1,) token offsets of the rows
        kept_per_row = kept_before[bounds[1:]] - kept_before[bounds[:-1]]  # (n_rows,)
        ids = np.split(codes[keep].astype(np.int32), np.cumsum(kept_per_row)[:-1]) if len(rows) else []
        yield pd.DataFrame({"doc_id": frame["doc_id"].to_numpy(np.int64), "ids": pd.Series(ids, dtype=object)})


class RestartableTokens:
    """An iterable over token lists that starts again from the top on every ``iter()``.

    gensim iterates the corpus once per epoch (plus once to scan the vocabulary when it has to), so
    a plain generator would be exhausted after the first pass. This class calls ``batches()`` afresh
    for every pass; the steps layer passes a function that streams the stored token Parquet (or,
    faster, the token-id Parquet of :func:`encode_token_frames`, with ``words``).

    Args:
        batches: returns a new iterator over batches of documents; a batch is an iterable of token
            sequences (lists, tuples or NumPy arrays of str, e.g. a frame's ``tokens`` column), or of
            int arrays of ids into ``words`` when ``words`` is given. Each document is yielded as a
            ``list[str]``, the type gensim's Cython code expects.
        words: the vocabulary, in id order, when the batches hold ids.
    """

    def __init__(
        self, batches: Callable[[], Iterable[Iterable[Sequence[str]]]], words: Sequence[str] | None = None
    ):
        self._batches = batches
        self._words = None if words is None else np.asarray(list(words), dtype=object)

    def batches(self) -> Iterable[Iterable[Sequence[str]]]:
        """A fresh iterator over the raw batches (id arrays when ``words`` is given), for array-based trainers."""
        return self._batches()

    def __iter__(self) -> Iterator[list[str]]:
        if self._words is not None:
            yield from self._iter_ids()
            return
        for batch in self._batches():
            for tokens in batch:
                if isinstance(tokens, list):
                    yield tokens
                elif isinstance(tokens, np.ndarray):
                    yield tokens.tolist()
                elif isinstance(tokens, str):
                    raise TypeError(
                        f"RestartableTokens: a batch yielded the str {tokens[:40]!r}, not a token sequence; "
                        "batches() must return an iterator of batches, each an iterable of token lists"
                    )
                else:
                    yield list(tokens)

    def _iter_ids(self) -> Iterator[list[str]]:
        words = self._words
        for batch in self._batches():
            rows = [np.asarray(r) for r in batch]
            if not rows:
                continue
            # One gather and one tolist per batch: the lists hold references to the vocabulary's own
            # str objects, so no string is created per token.
            flat = words[np.concatenate(rows)].tolist()
            start = 0
            for row in rows:
                end = start + len(row)
                yield flat[start:end]
                start = end
