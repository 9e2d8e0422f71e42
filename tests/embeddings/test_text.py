"""Tokenization, chunking, vocabulary and the restartable token stream; ingestion memory stays flat."""

from __future__ import annotations

import gzip
import random

import numpy as np
import pandas as pd
import pytest

from tasks.embeddings import text
from tasks.embeddings.config import TokenizeConfig
from tasks.embeddings.corpus import Document
from tasks.embeddings.text import RestartableTokens, TokenChunk, VocabularyCounter
from tasks.errors import InputError
from tests.embeddings.traced import traced_peak


def test_default_token_pattern_keeps_runs_of_letters():
    assert text.tokenize_text("Don't panic: R2-D2 café_au_lait 42", TokenizeConfig()) == [
        "don", "t", "panic", "r", "d", "café", "au", "lait",
    ]


def test_stop_words_and_case():
    cfg = TokenizeConfig(stop_words=("the",), english_stop_words=False)
    assert text.tokenize_text("The cat and THE hat", cfg) == ["cat", "and", "hat"]
    assert "and" not in text.tokenize_text("The cat and the hat", TokenizeConfig(english_stop_words=True))
    assert text.tokenize_text("The Cat", TokenizeConfig(lowercase=False)) == ["The", "Cat"]


def test_a_long_document_is_split_into_chunks_never_cut():
    words = [f"w{i % 997}x" for i in range(25_000)]
    docs = [Document(0, "short one"), Document(1, " ".join(words)), Document(2, "tail")]
    cfg = TokenizeConfig(token_pattern=r"\w+")
    chunks = list(text.tokenize_documents(docs, cfg))
    assert [(c.doc_id, len(c.tokens)) for c in chunks] == [(0, 2), (1, 10_000), (1, 10_000), (1, 5_000), (2, 1)]
    assert [t for c in chunks if c.doc_id == 1 for t in c.tokens] == words


def test_a_document_in_pieces_is_joined_before_chunking():
    pieces = [Document(0, "a b c "), Document(0, "d e"), Document(0, " f g"), Document(1, "h")]
    chunks = list(text.tokenize_documents(pieces, TokenizeConfig(), max_tokens=3))
    assert [(c.doc_id, c.tokens) for c in chunks] == [
        (0, ["a", "b", "c"]), (0, ["d", "e", "f"]), (0, ["g"]), (1, ["h"]),
    ]


def test_documents_without_tokens_give_no_chunk():
    chunks = list(text.tokenize_documents([Document(0, "123 !!"), Document(1, "ok")], TokenizeConfig()))
    assert chunks == [TokenChunk(1, ["ok"])]


def test_split_tokens_rejects_a_zero_limit():
    with pytest.raises(ValueError, match=r"split_tokens: max_tokens = 0 must be at least 1"):
        list(text.split_tokens(["a"], 0))


def test_vocabulary_counts_min_count_and_max_size():
    counter = VocabularyCounter()
    chunks = [TokenChunk(0, ["b", "a", "b", "c"]), TokenChunk(0, ["a", "b"]), TokenChunk(1, ["d", "a"])]
    assert list(counter.observe(chunks)) == chunks
    assert (counter.n_chunks, counter.n_tokens, counter.n_documents) == (3, 8, 2)
    frame = text.vocabulary_frame(counter.counts, min_count=1)
    assert frame.to_dict("list") == {"word": ["a", "b", "c", "d"], "count": [3, 3, 1, 1]}
    assert text.vocabulary_frame(counter.counts, min_count=2)["word"].tolist() == ["a", "b"]
    assert text.vocabulary_frame(counter.counts, min_count=1, max_vocab_size=3)["word"].tolist() == ["a", "b", "c"]
    with pytest.raises(InputError) as exc:
        text.vocabulary_frame(counter.counts, min_count=4)
    assert str(exc.value) == (
        "tokenize.min_count = 4: no word occurs at least 4 times (the corpus has 4 distinct words); "
        "lower tokenize.min_count or use a larger corpus"
    )


def test_token_frames_group_rows():
    chunks = [TokenChunk(i // 2, ["x"] * (i + 1)) for i in range(5)]
    frames = list(text.token_frames(chunks, batch_rows=2))
    assert [len(f) for f in frames] == [2, 2, 1]
    assert list(frames[0].columns) == ["doc_id", "tokens"] and frames[2]["doc_id"].tolist() == [2]
    assert frames[1]["tokens"].tolist() == [["x"] * 3, ["x"] * 4]


def test_the_token_stream_restarts_and_gives_the_same_tokens_each_pass():
    frames = [
        pd.DataFrame({"doc_id": [0, 1], "tokens": [np.array(["a", "b"], dtype=object), np.array(["c"], dtype=object)]}),
        pd.DataFrame({"doc_id": [2], "tokens": [np.array(["d", "e"], dtype=object)]}),
    ]
    opened = []

    def batches():  # a generator, like a Parquet reader: exhausted after one pass
        opened.append(1)
        for frame in frames:
            yield frame["tokens"]

    stream = RestartableTokens(batches)
    first, second = list(stream), list(stream)
    assert first == second == [["a", "b"], ["c"], ["d", "e"]]
    assert all(type(tokens) is list and type(tokens[0]) is str for tokens in first)
    assert len(opened) == 2


def test_the_token_stream_refuses_a_flat_stream_of_strings():
    with pytest.raises(TypeError, match=r"a batch yielded the str 'a', not a token sequence"):
        list(RestartableTokens(lambda: iter([["a", "b"]])))


def test_phrases_join_frequent_bigrams():
    rng = random.Random(0)
    filler = [f"w{i}" for i in range(300)]
    sentences = [rng.choices(filler, k=5) + ["new", "york"] + rng.choices(filler, k=5) for _ in range(200)]
    phraser = text.learn_phrases(sentences, TokenizeConfig(phrases=True))
    chunks = list(text.apply_phrases([TokenChunk(0, ["we", "saw", "new", "york"])], phraser))
    assert chunks == [TokenChunk(0, ["we", "saw", "new_york"])]


def _write_corpus(path, n_lines, vocabulary, seed=0):
    rng = random.Random(seed)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as handle:
        for _ in range(n_lines):
            handle.write(" ".join(rng.choices(vocabulary, k=60)) + "\n")


def _peak_of_ingestion(path, block_bytes: int) -> tuple[int, int]:
    """The traced peak of reading, tokenizing and counting ``path`` (in a fresh process), and its token count."""
    peak, printed = traced_peak(
        f"""
        from tasks.embeddings import corpus, text
        from tasks.embeddings.config import CorpusConfig, TokenizeConfig
        from tasks.embeddings.text import VocabularyCounter
        corpus._BLOCK_BYTES = {block_bytes}
        counter = VocabularyCounter()
        """,
        """
        for _ in counter.observe(text.tokenize_documents(corpus.iter_documents(CorpusConfig(path=sys.argv[1])),
                                                         TokenizeConfig())):
            pass
        print(counter.n_tokens)
        """, str(path))
    return peak, int(printed[0])


def test_ingestion_memory_does_not_grow_with_the_corpus(tmp_path):
    """Read, decode, tokenize and count 1× and 4× a corpus: the peak is set by the block, not the corpus."""
    block = 32 * 1024  # small blocks so a small corpus spans many
    vocabulary = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "klmnprst"]  # 200 words
    small, large = tmp_path / "small.txt.gz", tmp_path / "large.txt.gz"
    _write_corpus(small, 1_000, vocabulary)   # ≈ 0.24 MB of text, ≈ 8 blocks
    _write_corpus(large, 4_000, vocabulary)   # 4×
    peak_small, tokens_small = _peak_of_ingestion(small, block)
    peak_large, tokens_large = _peak_of_ingestion(large, block)
    assert tokens_large == 4 * tokens_small
    assert peak_large < 1.25 * peak_small + 64 * 1024, (peak_small, peak_large)


def test_token_frames_hold_a_bounded_number_of_tokens_whatever_the_document_length():
    """300 chunks of a 3-million-token document: no frame (one Parquet row group) holds them all."""
    chunks = (TokenChunk(0, ["w"] * 10_000) for _ in range(300))
    frames = list(text.token_frames(chunks))
    sizes = [int(f["tokens"].map(len).sum()) for f in frames]
    assert sum(sizes) == 3_000_000
    assert max(sizes) <= text.FRAME_TOKENS <= 1_000_000, max(sizes)


def test_short_documents_still_fill_frames_by_rows():
    frames = list(text.token_frames((TokenChunk(i, ["a", "b"]) for i in range(5_000)), batch_rows=2_048))
    assert [len(f) for f in frames] == [2_048, 2_048, 904]


def test_batch_rows_keep_a_batch_of_long_chunks_within_the_token_budget():
    assert text.batch_rows(n_tokens=3_000_000, n_chunks=300, most=2_048) == text.FRAME_TOKENS // 10_000
    assert text.batch_rows(n_tokens=1_000, n_chunks=100, most=2_048) == 2_048  # short documents: the row cap
    assert text.batch_rows(n_tokens=0, n_chunks=0, most=2_048) == 2_048


def test_token_ids_round_trip_through_the_restartable_stream():
    vocabulary = ["the", "cat", "sat"]
    frames = [
        pd.DataFrame({"doc_id": [0, 1], "tokens": [["the", "cat", "rare", "sat"], ["rare"]]}),
        pd.DataFrame({"doc_id": [2], "tokens": [np.array(["sat", "the"], dtype=object)]}),
    ]
    encoded = list(text.encode_token_frames(frames, vocabulary))
    assert [f["doc_id"].tolist() for f in encoded] == [[0, 1], [2]]
    assert [ids.tolist() for ids in encoded[0]["ids"]] == [[0, 1, 2], []]  # words outside the vocabulary dropped
    assert encoded[0]["ids"].iloc[0].dtype == np.int32
    stream = RestartableTokens(lambda: (f["ids"] for f in encoded), words=vocabulary)
    assert list(stream) == list(stream) == [["the", "cat", "sat"], [], ["sat", "the"]]
    with pytest.raises(ValueError, match=r"the vocabulary lists a word twice"):
        list(text.encode_token_frames(frames, ["a", "a"]))
