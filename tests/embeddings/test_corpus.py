"""Corpus readers: every source kind streams the same documents; every bad input is a one-line error."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest

from tasks.embeddings import corpus
from tasks.embeddings.config import CorpusConfig
from tasks.embeddings.corpus import Document, iter_documents
from tasks.errors import InputError
from tests.embeddings.traced import traced_peak

LINES = ["The cat sat on the mat.", "", "A dog barked at the cat.", "   ", "Birds sing"]
EXPECTED = [Document(0, LINES[0]), Document(1, LINES[2]), Document(2, LINES[4])]


def _docs(**kwargs) -> list[Document]:
    return list(iter_documents(CorpusConfig(**kwargs)))


def test_off_is_gensims_small_lee_background_corpus():
    docs = _docs(path=None)
    assert len(docs) == 300
    assert docs[0].text.startswith("Hundreds of people have been forced to vacate their homes")


def test_the_default_corpus_is_the_shipped_text8_prefix_read_in_pieces():
    """data/text8-prefix.gz: one 12.5 MB line of Wikipedia text, read piece by piece (only the first here)."""
    cfg = CorpusConfig()
    assert cfg.path == Path("data/text8-prefix.gz") and corpus.corpus_path(cfg).is_file()
    first = next(iter_documents(cfg))
    assert first.doc_id == 0 and first.text.startswith(" anarchism originated as a term of abuse")
    assert len(first.text) <= corpus._PIECE_CHARS


@pytest.mark.parametrize("opener", [open, gzip.open, bz2.open], ids=["plain", "gz", "bz2"])
def test_text_file_one_document_per_line_skipping_blank_lines(tmp_path, opener):
    path = tmp_path / "corpus.txt"
    with opener(path, "wb") as handle:  # compressed under a plain name: the magic bytes decide
        handle.write(("\r\n".join(LINES) + "\n").encode("utf-8"))
    assert _docs(path=path) == EXPECTED


def test_directory_of_text_files_in_sorted_order(tmp_path):
    (tmp_path / "b.txt").write_text("second file\nline two\n", encoding="utf-8")
    with gzip.open(tmp_path / "a.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("first file")
    (tmp_path / "notes.md").write_text("not part of the corpus", encoding="utf-8")
    assert _docs(path=tmp_path) == [Document(0, "first file"), Document(1, "second file"), Document(2, "line two")]
    assert _docs(path=tmp_path, document="file") == [Document(0, "first file"), Document(1, "second file\nline two\n")]


def test_tsv_text_column_without_quoting(tmp_path):
    path = tmp_path / "reviews.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('split\ttext\trating\ntrain\t"Quoted" start, kept as text\t9\ntest\tSecond review\t2\n')
    assert _docs(path=path) == [Document(0, '"Quoted" start, kept as text'), Document(1, "Second review")]


def test_csv_with_a_quoted_field_spanning_lines(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('id,body\n1,"one, with a comma\nand a newline"\n2,plain\n', encoding="utf-8")
    assert _docs(path=path, text_column="body") == [
        Document(0, "one, with a comma\nand a newline"),
        Document(1, "plain"),
    ]


def test_other_encodings_and_byte_order_mark(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café crème\n".encode("latin-1"))
    assert _docs(path=latin, encoding="latin-1") == [Document(0, "café crème")]
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffhello\n".encode("utf-8"))
    assert _docs(path=bom) == [Document(0, "hello")]
    wide = tmp_path / "wide.txt"
    wide.write_bytes("two words\nmore\n".encode("utf-16"))
    assert _docs(path=wide, encoding="utf-16") == [Document(0, "two words"), Document(1, "more")]


def test_max_documents_stops_early(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a\nb\nc\n", encoding="utf-8")
    assert [d.text for d in _docs(path=path, max_documents=2)] == ["a", "b"]


def test_a_long_line_arrives_in_pieces_cut_at_whitespace(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "_BLOCK_BYTES", 64)
    words = [f"word{i:04d}" for i in range(400)]
    path = tmp_path / "one-line.txt"
    path.write_text(" ".join(words) + "\nnext line\n", encoding="utf-8")
    docs = list(iter_documents(CorpusConfig(path=path), piece_chars=200))
    first = [d for d in docs if d.doc_id == 0]
    assert len(first) > 5 and all(len(d.text) <= 200 + 64 for d in first)
    assert "".join(d.text for d in first).split() == words  # no token cut in two
    assert docs[-1] == Document(1, "next line")


class _CountingPattern:
    """A compiled pattern that counts the characters it is asked to scan (the reader's work)."""

    def __init__(self, pattern):
        self.pattern, self.scanned = pattern, 0

    def _count(self, string, pos=0, endpos=None):
        self.scanned += (len(string) if endpos is None else min(endpos, len(string))) - pos

    def search(self, string, *args):
        self._count(string, *args)
        return self.pattern.search(string, *args)

    def match(self, string, *args):
        self._count(string, *args)
        return self.pattern.match(string, *args)


def _scanned_reading(monkeypatch, path, piece_chars) -> tuple[int, list[Document]]:
    counters = []
    for name in ("_LAST_SPACE", "_LAST_NON_WORD", "_WORD_RUN"):
        if hasattr(corpus, name):
            counters.append(_CountingPattern(getattr(corpus, name)))
            monkeypatch.setattr(corpus, name, counters[-1])
    docs = list(iter_documents(CorpusConfig(path=path), piece_chars=piece_chars))
    return sum(c.scanned for c in counters), docs


@pytest.mark.parametrize("separator", [",", ""], ids=["punctuation", "letters-only"])
def test_a_line_without_whitespace_is_read_in_linear_work_and_bounded_pieces(tmp_path, monkeypatch, separator):
    """Work is counted as the characters the cut searches scan: 4x the line, at most ~4x the work."""
    monkeypatch.setattr(corpus, "_BLOCK_BYTES", 256)
    work, longest = [], []
    for n_words in (500, 2_000):
        path = tmp_path / f"line-{n_words}.txt"
        path.write_text(separator.join(f"w{i:05d}" for i in range(n_words)) + "\nnext line\n", encoding="utf-8")
        scanned, docs = _scanned_reading(monkeypatch, path, piece_chars=300)
        # A line of word characters alone is no word: dropped, it leaves no document behind.
        assert docs[-1] == Document(1 if separator else 0, "next line")
        work.append(scanned)
        longest.append(max(len(d.text) for d in docs))
    assert work[0] > 0  # the searches that cut pieces were counted
    assert work[1] <= 4.5 * work[0], work
    assert max(longest) <= 300, longest


def test_a_line_without_whitespace_is_cut_at_punctuation_never_inside_a_token(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "_BLOCK_BYTES", 64)
    words = [f"word{i:04d}" for i in range(400)]
    path = tmp_path / "commas.txt"
    path.write_text(",".join(words) + "\n", encoding="utf-8")
    docs = list(iter_documents(CorpusConfig(path=path), piece_chars=200))
    assert len(docs) > 5 and all(len(d.text) <= 200 for d in docs)
    assert "".join(d.text for d in docs) == ",".join(words)
    assert [w for d in docs for w in d.text.split(",") if w] == words  # every piece ends at a comma


def test_an_overlong_run_of_letters_is_dropped_as_a_non_word_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "_BLOCK_BYTES", 64)
    path = tmp_path / "blob.txt"
    path.write_text("before " + "x" * 5_000 + " after\n" + "y" * 5_000 + "\nlast\n", encoding="utf-8")
    stats = corpus.ReadStats()
    docs = list(iter_documents(CorpusConfig(path=path), piece_chars=200, stats=stats))
    assert all(len(d.text) <= 200 for d in docs)
    assert [(d.doc_id, d.text.split()) for d in docs if d.text.split()] == [(0, ["before"]), (0, ["after"]),
                                                                             (1, ["last"])]
    assert (stats.dropped_runs, stats.dropped_chars) == (2, 10_000)


@pytest.mark.parametrize("opener", [open, gzip.open], ids=["plain", "gz"])
def test_bytes_read_reach_the_corpus_size_for_progress(tmp_path, monkeypatch, opener):
    monkeypatch.setattr(corpus, "_BLOCK_BYTES", 256)
    folder = tmp_path / "texts"
    folder.mkdir()
    for name in ("a.txt.gz", "b.txt.gz") if opener is gzip.open else ("a.txt", "b.txt"):
        with opener(folder / name, "wb") as handle:
            handle.write(("some words here\n" * 500).encode())
    cfg, stats, seen = CorpusConfig(path=folder), corpus.ReadStats(), []
    for _ in iter_documents(cfg, stats=stats):
        seen.append(stats.bytes_read)
    assert seen == sorted(seen) and seen[0] < corpus.corpus_bytes(cfg)
    assert stats.bytes_read == corpus.corpus_bytes(cfg) == sum(f.stat().st_size for f in folder.iterdir())


def test_a_corpus_of_dropped_runs_alone_says_so(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_text("q" * 1_000 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"the corpus is empty: no document has any text \(1 run\(s\) of word "
                                         r"characters at least 300 long were dropped as non-words\)"):
        list(iter_documents(CorpusConfig(path=path), piece_chars=300))


def test_reading_memory_is_bounded_by_the_piece_not_the_line(tmp_path):
    """A 2 MB line of letters alone, read in 1 KiB blocks and 4 KiB pieces: the peak stays near the piece."""
    path = tmp_path / "letters.txt"
    path.write_text("a" * 2_000_000 + " tail\n", encoding="utf-8")
    peak, words = traced_peak(
        """
        from tasks.embeddings import corpus
        from tasks.embeddings.config import CorpusConfig
        corpus._BLOCK_BYTES = 1024
        """,
        """
        docs = list(corpus.iter_documents(CorpusConfig(path=sys.argv[1]), piece_chars=4096))
        print(len(docs), *(word for d in docs for word in d.text.split()))
        """, str(path))
    assert words == ["1", "tail"]  # one document: the run of letters dropped, its tail kept
    assert peak < 256 * 1024, peak


def test_undecodable_byte_names_the_file_and_byte_offset(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "_BLOCK_BYTES", 16)  # the bad byte sits several blocks in
    path = tmp_path / "bad.txt"
    data = "héllo wörld, a line\n".encode("utf-8") + b"caf\xe9 bar\n"
    path.write_bytes(data)
    offset = data.index(b"\xe9 ")
    with pytest.raises(InputError) as exc:
        _docs(path=path)
    assert str(exc.value) == (
        f"{path}: byte 0xe9 at byte offset {offset} is not valid utf-8 "
        "(set corpus.errors = 'replace' to replace undecodable bytes, or corpus.encoding)"
    )
    assert _docs(path=path, errors="replace")[1] == Document(1, "caf\ufffd bar")


def test_a_character_split_across_blocks_decodes_and_offsets_count_held_back_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "_BLOCK_BYTES", 5)
    path = tmp_path / "split.txt"
    data = "abcdé".encode("utf-8") + b"\xff\n"  # é straddles the first block boundary
    path.write_bytes(data)
    with pytest.raises(InputError, match=r"byte 0xff at byte offset 6 is not valid utf-8"):
        _docs(path=path)


def test_undecodable_byte_in_a_gzip_file_counts_decompressed_bytes(tmp_path):
    path = tmp_path / "bad.txt.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"ok line\n\x80oops\n")
    with pytest.raises(InputError, match=r"bad\.txt\.gz: byte 0x80 at byte offset 8 is not valid utf-8"):
        _docs(path=path)


def test_truncated_sequence_at_end_of_file(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_bytes(b"word \xc3")
    with pytest.raises(InputError, match=r"byte 0xc3 at byte offset 5 is not valid utf-8"):
        _docs(path=path)


def test_missing_path(tmp_path):
    path = tmp_path / "nowhere.txt"
    with pytest.raises(InputError) as exc:
        _docs(path=path)
    assert str(exc.value) == f"{path}: no such file or directory"


@pytest.mark.parametrize("content", [b"", b"\n  \n\t\n"], ids=["empty", "blank"])
def test_empty_corpus(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as exc:
        _docs(path=path)
    assert str(exc.value) == f"{path}: the corpus is empty: no document has any text"


def test_directory_without_text_files(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"\x00")
    with pytest.raises(InputError) as exc:
        _docs(path=tmp_path)
    assert str(exc.value) == f"{tmp_path}: no .txt, .txt.gz, .txt.bz2 files in this directory"


def test_binary_file(tmp_path):
    path = tmp_path / "model.txt"
    path.write_bytes(b"GIF89a\x01\x00\x00\x00")
    with pytest.raises(InputError) as exc:
        _docs(path=path)
    assert str(exc.value) == f"{path}: looks binary (a NUL byte at byte offset 7); a corpus must be utf-8 text"


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "broken.txt.gz"
    path.write_bytes(gzip.compress(b"some text here\n" * 100)[:40])
    with pytest.raises(InputError, match=r"broken\.txt\.gz: cannot be read as a compressed or text file \("):
        _docs(path=path)


def test_gzip_corrupt_in_the_middle(tmp_path):
    data = bytearray(gzip.compress(" ".join(f"word{i}" for i in range(200_000)).encode()))
    data[2000:2100] = bytes(b ^ 0xFF for b in data[2000:2100])
    path = tmp_path / "corrupt.txt.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"corrupt\.txt\.gz: cannot be read as a compressed or text file \(Error -3"):
        _docs(path=path)


def test_table_without_the_text_column_lists_the_columns(tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_text("split\tlabel\tid\trating\treview\ntrain\tpos\t1\t9\tgreat\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        _docs(path=path)
    assert str(exc.value) == (
        f"{path}: no column 'text' (set corpus.text_column); the columns are: split, label, id, rating, review"
    )


def test_ragged_table_row(tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_text("id\ttext\n1\tfine\n2\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        _docs(path=path)
    assert str(exc.value) == f"{path}, row 3: has 1 fields but the header has 2"


def test_errors_are_one_line(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        _docs(path=path)
    assert "\n" not in str(exc.value)


def test_corpus_files_for_hashing(tmp_path):
    (tmp_path / "b.txt").write_text("x", encoding="utf-8")
    (tmp_path / "a.txt").write_text("y", encoding="utf-8")
    assert corpus.corpus_files(CorpusConfig(path=tmp_path)) == [tmp_path / "a.txt", tmp_path / "b.txt"]
    assert corpus.corpus_files(CorpusConfig(path=None))[0].name == "lee_background.cor"
    assert isinstance(corpus.corpus_path(CorpusConfig(path=None)), Path)
    assert corpus.corpus_files(CorpusConfig()) == [Path("data/text8-prefix.gz")]
