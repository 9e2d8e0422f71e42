"""Read a text corpus as a stream of documents, never holding the whole corpus in memory.

Sources: a text file (plain, ``.gz`` or ``.bz2``, recognised by their magic bytes), a directory of
``.txt`` files (also ``.txt.gz``/``.txt.bz2``, read in sorted order), or a ``.tsv``/``.csv`` table with
a text column. A document is one line or one file; each table row is one document.

Bytes are decoded block by block with an incremental decoder, so an undecodable byte is reported
with its exact byte offset (in the decompressed stream for ``.gz``/``.bz2``). Every problem with the
input is a one-line :class:`tasks.errors.InputError`; errors are raised while streaming, so a consumer
that writes atomically leaves nothing behind.

A single document longer than ``piece_chars`` characters (text8 is one 100 MB line) arrives as
several consecutive :class:`Document` pieces with the same ``doc_id``, each at most ``piece_chars``
long: memory stays bounded by the piece size, not by the document, and every character is looked at
a bounded number of times, so reading is linear in the corpus whatever its whitespace. A piece is cut
after its last whitespace; a stretch without whitespace (``a,b,c,…``) after its last non-word
character (punctuation), which splits no token of a pattern made of word characters. A run of word
characters at least ``piece_chars`` long has neither: it is no word anyone can look up (a base64 blob,
a line of ``aaaa…``), so it is dropped whole as a non-word and counted in :class:`ReadStats`.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import gzip
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gensim.test.utils import datapath

from tasks.embeddings.config import LEE_CORPUS, CorpusConfig, is_table
from tasks.errors import InputError, file_read_error, not_a_file_rule

TEXT_SUFFIXES: tuple[str, ...] = (".txt", ".txt.gz", ".txt.bz2")

_BLOCK_BYTES = 1 << 20
_SNIFF_BYTES = 8192  # binary check: a NUL byte here means "not text" (the heuristic git and grep use)
_PIECE_CHARS = 1 << 20
_WIDE_ENCODINGS = ("utf-16", "utf-32")  # NUL bytes are normal in these, so the binary check is off
# Matched from a piece's start with ``endpos``, greedy ``.*`` runs to the end and backs off to the last
# whitespace (or non-word character): one linear scan in C, however long the stretch without one.
_LAST_SPACE = re.compile(r".*\s", re.DOTALL)
_LAST_NON_WORD = re.compile(r".*\W", re.DOTALL)
_WORD_RUN = re.compile(r"\w*")


@dataclass(frozen=True, slots=True)
class Document:
    """One document, or one piece of a long one (pieces of a document share ``doc_id``).

    Attributes:
        doc_id: 0-based running number of the document in the corpus (blank ones are skipped).
        text: the document's text (or this piece of it), newlines included in ``document="file"`` mode.
    """

    doc_id: int
    text: str


@dataclass(slots=True)
class ReadStats:
    """What reading dropped: runs of word characters too long to be words (see the module's docstring).

    Attributes:
        dropped_runs: how many such runs were dropped.
        dropped_chars: their characters, in total.
        piece_chars: the length from which a run was dropped (the reader's piece size).
        bytes_read: bytes of the corpus files read so far (compressed, for compressed files): progress
            against :func:`corpus_bytes`.
    """

    dropped_runs: int = 0
    dropped_chars: int = 0
    piece_chars: int = field(default=0)
    bytes_read: int = 0


def corpus_path(cfg: CorpusConfig) -> Path:
    """Return the configured path, or gensim's bundled ``lee_background.cor`` for ``corpus.path = off``."""
    return Path(cfg.path) if cfg.path is not None else Path(datapath(LEE_CORPUS))


def corpus_files(cfg: CorpusConfig) -> list[Path]:
    """List the files that make up the corpus, in reading order (hash them to key caches).

    Raises:
        InputError: the path does not exist, is neither a file nor a directory (a FIFO would block
            the reader until someone wrote to it), or a directory holds no ``.txt`` files.
    """
    path = corpus_path(cfg)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(TEXT_SUFFIXES))
        if not files:
            raise InputError(f"no {', '.join(TEXT_SUFFIXES)} files in this directory", file=path)
        return files
    if not path.exists():
        raise InputError("no such file or directory", file=path)
    if not path.is_file():
        raise InputError(not_a_file_rule(path), file=path)
    return [path]


def corpus_bytes(cfg: CorpusConfig) -> int:
    """The corpus files' total size in bytes (as stored: compressed for compressed files)."""
    return sum(f.stat().st_size for f in corpus_files(cfg))


def iter_documents(
    cfg: CorpusConfig, piece_chars: int = _PIECE_CHARS, stats: ReadStats | None = None
) -> Iterator[Document]:
    """Stream the corpus as documents (long ones in pieces), in file order.

    Args:
        cfg: where the corpus is and how it is read.
        piece_chars: a document longer than this many characters is yielded in pieces of at most this
            size, cut after whitespace or punctuation (never inside a token); a run of word characters
            this long is dropped.
        stats: if given, counts what was dropped (filled in while the stream is consumed).

    Raises:
        InputError: missing path, empty corpus, a binary or corrupt compressed file, undecodable bytes
            under ``errors="strict"``, a table without ``cfg.text_column`` or with a ragged row.
    """
    if piece_chars < 2:
        raise ValueError(f"iter_documents: piece_chars = {piece_chars} must be at least 2")
    stats = stats if stats is not None else ReadStats()
    stats.piece_chars = piece_chars
    files = corpus_files(cfg)
    path = corpus_path(cfg)
    table = path.is_file() and is_table(path)
    doc_id = 0
    for file in files:
        pieces = _table_rows(file, cfg, stats) if table else _text_pieces(file, cfg, piece_chars, stats)
        started = False
        for text, ends_document in pieces:
            if text.strip():
                if cfg.max_documents is not None and doc_id >= cfg.max_documents:
                    return
                started = True
                yield Document(doc_id, text)
            if ends_document and started:
                doc_id += 1
                started = False
        if started:  # a file that ends without a newline still closes its last document
            doc_id += 1
    if doc_id == 0:
        dropped = (f" ({stats.dropped_runs:,} run(s) of word characters at least {piece_chars:,} long were dropped "
                   "as non-words)") if stats.dropped_runs else ""
        raise InputError(f"the corpus is empty: no document has any text{dropped}", file=path)


@contextlib.contextmanager
def _open_binary(file: Path) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """Open ``file`` for reading bytes, decompressing gzip or bzip2 recognised by their magic bytes.

    Yields the stream to read and the raw file beneath it, whose position tells how far reading has
    got in the file's own bytes (progress against the file's size, compressed or not).
    """
    with open(file, "rb") as raw:
        magic = raw.read(3)
        raw.seek(0)
        if magic[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw, mode="rb") as handle:
                yield handle, raw
        elif magic == b"BZh":
            with bz2.BZ2File(raw, "rb") as handle:
                yield handle, raw
        else:
            yield raw, raw


def _decoded_blocks(file: Path, encoding: str, errors: str, stats: ReadStats | None = None) -> Iterator[str]:
    """Yield the text of ``file`` in blocks, raising one-line errors with the failing byte offset.

    With ``stats``, ``stats.bytes_read`` grows by the file's bytes read (compressed, for a compressed file).
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    check_binary = not codecs.lookup(encoding).name.startswith(_WIDE_ENCODINGS)
    consumed = 0  # bytes fed to the decoder so far
    first = True
    before = stats.bytes_read if stats is not None else 0
    try:
        with _open_binary(file) as (handle, raw):
            while True:
                block = handle.read(_BLOCK_BYTES)
                if stats is not None:
                    stats.bytes_read = before + raw.tell()
                if first and check_binary:
                    nul = block.find(b"\x00", 0, _SNIFF_BYTES)
                    if nul >= 0:
                        raise InputError(
                            f"looks binary (a NUL byte at byte offset {nul}); a corpus must be {encoding} text",
                            file=file,
                        )
                # Bytes the decoder holds back from the previous block (half a character) come first
                # in the exception's view, so subtract them to get the offset in the file.
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    offset = consumed - pending + exc.start
                    raise InputError(
                        f"byte 0x{exc.object[exc.start]:02x} at byte offset {offset} is not valid {encoding} "
                        "(set corpus.errors = 'replace' to replace undecodable bytes, or corpus.encoding)",
                        file=file,
                    ) from None
                if first:
                    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark is not text
                    first = False
                consumed += len(block)
                if text:
                    yield text
                if not block:
                    return
    except (gzip.BadGzipFile, EOFError, OSError, zlib.error) as exc:  # bz2 raises OSError, gzip zlib.error
        if isinstance(exc, OSError) and exc.errno is not None:  # the file itself (permissions, the disk)
            raise file_read_error(exc, file) from None
        raise InputError(f"cannot be read as a compressed or text file ({exc})", file=file) from None


def _text_lines(file: Path, encoding: str, errors: str, stats: ReadStats | None = None) -> Iterator[str]:
    """Yield the whole lines of ``file`` (without ``\\n`` or a preceding ``\\r``), for the table reader.

    A line's parts are joined once, when it ends, so a long line costs linear time (a table's csv
    parser must see whole lines, so here a line is held whole).
    """
    parts: list[str] = []
    for block in _decoded_blocks(file, encoding, errors, stats):
        lines = block.split("\n")
        for line in lines[:-1]:
            parts.append(line)
            yield "".join(parts).removesuffix("\r")
            parts = []
        if lines[-1]:
            parts.append(lines[-1])
    if parts:
        yield "".join(parts).removesuffix("\r")


class _PieceCutter:
    """Collect one document's text and hand it out in pieces of at most ``limit`` characters.

    Held text never exceeds ``limit`` plus one block, and every search for a cut scans at most
    ``limit`` characters and moves the text on by about that much: reading is linear.
    """

    def __init__(self, limit: int, stats: ReadStats):
        self.limit, self.stats = limit, stats
        self.parts: list[str] = []
        self.size = 0
        self.dropping = False  # inside a run of word characters being dropped

    def add(self, text: str) -> Iterator[str]:
        """Take ``text`` (the next stretch of the document); yield the pieces that are complete."""
        if self.dropping:
            run = _WORD_RUN.match(text).end()
            self.stats.dropped_chars += run
            if run == len(text):
                return
            text, self.dropping = text[run:], False
        if text:
            self.parts.append(text)
            self.size += len(text)
        while self.size > self.limit:
            held = "".join(self.parts)
            cut = _LAST_SPACE.match(held, 0, self.limit) or _LAST_NON_WORD.match(held, 0, self.limit)
            if cut is not None:
                yield held[: cut.end()]
                rest = held[cut.end() :]
            else:  # the first `limit` characters are all word characters: drop the whole run
                run = _WORD_RUN.match(held).end()
                self.stats.dropped_runs += 1
                self.stats.dropped_chars += run
                self.dropping = run == len(held)
                rest = held[run:]
            self.parts, self.size = ([rest] if rest else []), len(rest)

    def end(self) -> str:
        """The rest of the document (the last piece), and start afresh."""
        held = "".join(self.parts)
        self.parts, self.size, self.dropping = [], 0, False
        return held


def _text_pieces(file: Path, cfg: CorpusConfig, piece_chars: int, stats: ReadStats) -> Iterator[tuple[str, bool]]:
    """Yield ``(text, ends_document)`` for a text file: pieces of lines, or of the whole file."""
    cutter = _PieceCutter(piece_chars, stats)
    by_line = cfg.document == "line"
    for block in _decoded_blocks(file, cfg.encoding, cfg.errors, stats):
        lines = block.split("\n") if by_line else [block]
        for line in lines[:-1]:
            for piece in cutter.add(line):
                yield piece, False
            yield cutter.end().removesuffix("\r"), True
        for piece in cutter.add(lines[-1]):
            yield piece, False
    last = cutter.end()
    yield (last.removesuffix("\r") if by_line else last), True


class _Unlimited:
    """A csv reader whose every row is read with the field limit lifted (one review can exceed the
    default 128 KiB), the process-wide limit given back after each row: other readers keep theirs."""

    def __init__(self, reader):
        self._reader = reader

    def __iter__(self):
        return self

    @property
    def line_num(self) -> int:
        """Lines read so far (the wrapped reader's)."""
        return self._reader.line_num

    def __next__(self):
        before = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        try:
            return next(self._reader)
        finally:
            csv.field_size_limit(before)


def _table_rows(file: Path, cfg: CorpusConfig, stats: ReadStats) -> Iterator[tuple[str, bool]]:
    """Yield ``(text, True)`` for each row of a TSV (no quoting) or CSV (Excel quoting) table."""
    suffixes = [s.lower() for s in file.suffixes if s.lower() not in (".gz", ".bz2")]
    tsv = bool(suffixes) and suffixes[-1] in (".tsv", ".tab")
    # TSV is read as the IANA format (no quoting: a stray " in a review is text); CSV as Excel writes it.
    dialect = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if tsv else {"delimiter": ","}
    # The csv parser is given lines with their newline back, as from a file opened with newline="".
    lines = (line + "\n" for line in _text_lines(file, cfg.encoding, cfg.errors, stats))
    reader = _Unlimited(csv.reader(lines, **dialect))
    header = next(reader, None)
    if header is None:
        raise InputError("the corpus is empty: the table has no header row", file=file)
    if cfg.text_column not in header:
        raise InputError(
            f"no column {cfg.text_column!r} (set corpus.text_column); the columns are: {', '.join(header)}",
            file=file,
        )
    index = header.index(cfg.text_column)
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(
                f"has {len(row)} fields but the header has {len(header)}", file=file, row=reader.line_num
            )
        yield row[index], True
