"""Documents → tokens → vocabulary, as generators: memory stays flat however large the corpus.

The pipeline a steps layer runs, one pass over the corpus::

    docs = corpus.iter_documents(cfg.corpus)
    chunks = tokenize_documents(docs, cfg.tokenize)           # (doc_id, tokens ≤ 10,000)
    chunks = apply_phrases(chunks, phraser)                   # optional, after learn_phrases (one more pass)
    counter = VocabularyCounter(); chunks = counter.observe(chunks)
    for frame in token_frames(chunks): write a row group      # doc_id, tokens
    vocabulary_frame(counter.counts, min_count, max_vocab_size)  # word, count

and for training, a :class:`RestartableTokens` over a callable that streams the stored tokens again.
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
    """
    words = [w for w, c in counts.items() if c >= min_count]
    frame = pd.DataFrame(
        {"word": pd.Series(words, dtype=object), "count": np.fromiter((counts[w] for w in words), np.int64, len(words))}
    )
    frame = frame.sort_values(["count", "word"], ascending=[False, True], kind="stable", ignore_index=True)
    if max_vocab_size is not None:
        frame = frame.iloc[:max_vocab_size].reset_index(drop=True)
    return frame


def token_frames(chunks: Iterable[TokenChunk], batch_rows: int = 2048) -> Iterator[pd.DataFrame]:
    """Group chunks into ``doc_id, tokens`` frames of at most ``batch_rows`` rows (one Parquet row group each)."""
    ids: list[int] = []
    tokens: list[list[str]] = []
    for chunk in chunks:
        ids.append(chunk.doc_id)
        tokens.append(chunk.tokens)
        if len(ids) >= batch_rows:
            yield _token_frame(ids, tokens)
            ids, tokens = [], []
    if ids:
        yield _token_frame(ids, tokens)


def _token_frame(ids: list[int], tokens: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": np.asarray(ids, dtype=np.int64), "tokens": pd.Series(tokens, dtype=object)})


class RestartableTokens:
    """An iterable over token lists that starts again from the top on every ``iter()``.

    gensim iterates the corpus once per epoch (plus once to scan the vocabulary when it has to), so
    a plain generator would be exhausted after the first pass. This class calls ``batches()`` afresh
    for every pass; the steps layer passes a function that streams the stored token Parquet.

    Args:
        batches: returns a new iterator over batches of documents; a batch is an iterable of token
            sequences (lists, tuples or NumPy arrays of str, e.g. a frame's ``tokens`` column). Each
            is yielded as a ``list[str]``, the type gensim's Cython code expects.
    """

    def __init__(self, batches: Callable[[], Iterable[Iterable[Sequence[str]]]]):
        self._batches = batches

    def __iter__(self) -> Iterator[list[str]]:
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
