"""Read a text corpus as a stream of documents, never holding the whole corpus in memory.

Sources: a text file (plain, ``.gz`` or ``.bz2``, recognised by their magic bytes), a directory of
``.txt`` files (also ``.txt.gz``/``.txt.bz2``, read in sorted order), or a ``.tsv``/``.csv`` table with
a text column. A document is one line or one file; each table row is one document.

Bytes are decoded block by block with an incremental decoder, so an undecodable byte is reported
with its exact byte offset (in the decompressed stream for ``.gz``/``.bz2``). Every problem with the
input is a one-line :class:`tasks.errors.InputError`; errors are raised while streaming, so a consumer
that writes atomically leaves nothing behind.

A single document longer than ``piece_chars`` characters (text8 is one 100 MB line) arrives as
several consecutive :class:`Document` pieces with the same ``doc_id``, cut at whitespace so that no
token is split: memory stays bounded by the piece size, not by the document.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gensim.test.utils import datapath

from tasks.embeddings.config import DEFAULT_CORPUS, CorpusConfig, is_table
from tasks.errors import InputError, file_read_error, not_a_file_rule

TEXT_SUFFIXES: tuple[str, ...] = (".txt", ".txt.gz", ".txt.bz2")

_BLOCK_BYTES = 1 << 20
_SNIFF_BYTES = 8192  # binary check: a NUL byte here means "not text" (the heuristic git and grep use)
_PIECE_CHARS = 1 << 20
_WIDE_ENCODINGS = ("utf-16", "utf-32")  # NUL bytes are normal in these, so the binary check is off
_LAST_SPACE = re.compile(r"\s\S*\Z")


@dataclass(frozen=True, slots=True)
class Document:
    """One document, or one piece of a long one (pieces of a document share ``doc_id``).

    Attributes:
        doc_id: 0-based running number of the document in the corpus (blank ones are skipped).
        text: the document's text (or this piece of it), newlines included in ``document="file"`` mode.
    """

    doc_id: int
    text: str


def corpus_path(cfg: CorpusConfig) -> Path:
    """Return the configured path, or gensim's bundled ``lee_background.cor`` when none is set."""
    return Path(cfg.path) if cfg.path is not None else Path(datapath(DEFAULT_CORPUS))


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


def iter_documents(cfg: CorpusConfig, piece_chars: int = _PIECE_CHARS) -> Iterator[Document]:
    """Stream the corpus as documents (long ones in pieces), in file order.

    Args:
        cfg: where the corpus is and how it is read.
        piece_chars: a document longer than this many characters is yielded in pieces of about this
            size, cut at whitespace (never inside a token).

    Raises:
        InputError: missing path, empty corpus, a binary or corrupt compressed file, undecodable bytes
            under ``errors="strict"``, a table without ``cfg.text_column`` or with a ragged row.
    """
    files = corpus_files(cfg)
    path = corpus_path(cfg)
    table = path.is_file() and is_table(path)
    doc_id = 0
    for file in files:
        pieces = _table_rows(file, cfg) if table else _text_pieces(file, cfg, piece_chars)
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
        raise InputError("the corpus is empty: no document has any text", file=path)


def _open_binary(file: Path) -> BinaryIO:
    """Open ``file`` for reading bytes, decompressing gzip or bzip2 recognised by their magic bytes."""
    with open(file, "rb") as raw:
        magic = raw.read(3)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(file, "rb")
    if magic == b"BZh":
        return bz2.open(file, "rb")
    return open(file, "rb")


def _decoded_blocks(file: Path, encoding: str, errors: str) -> Iterator[str]:
    """Yield the text of ``file`` in blocks, raising one-line errors with the failing byte offset."""
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    check_binary = not codecs.lookup(encoding).name.startswith(_WIDE_ENCODINGS)
    consumed = 0  # bytes fed to the decoder so far
    first = True
    try:
        with _open_binary(file) as handle:
            while True:
                block = handle.read(_BLOCK_BYTES)
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


def _text_lines(file: Path, encoding: str, errors: str, piece_chars: int | None) -> Iterator[tuple[str, bool]]:
    """Yield ``(text, ends_line)``: whole lines, or pieces of lines longer than ``piece_chars``.

    Lines end at ``\\n`` (a preceding ``\\r`` is dropped). With ``piece_chars=None`` lines are never
    cut (tables: the csv parser must see whole lines).
    """
    carry = ""
    for block in _decoded_blocks(file, encoding, errors):
        lines = (carry + block).split("\n")
        carry = lines.pop()
        for line in lines:
            yield line.removesuffix("\r"), True
        if piece_chars is not None and len(carry) > piece_chars:
            cut = _LAST_SPACE.search(carry)
            if cut is not None and cut.start() > 0:
                yield carry[: cut.start()], False
                carry = carry[cut.start() :]
    if carry:
        yield carry.removesuffix("\r"), True


def _text_pieces(file: Path, cfg: CorpusConfig, piece_chars: int) -> Iterator[tuple[str, bool]]:
    """Yield ``(text, ends_document)`` for a text file, by line or as one whole-file document."""
    if cfg.document == "line":
        yield from _text_lines(file, cfg.encoding, cfg.errors, piece_chars)
        return
    carry = ""
    for block in _decoded_blocks(file, cfg.encoding, cfg.errors):
        carry += block
        if len(carry) > piece_chars:
            cut = _LAST_SPACE.search(carry)
            if cut is not None and cut.start() > 0:
                yield carry[: cut.start()], False
                carry = carry[cut.start() :]
    yield carry, True


def _table_rows(file: Path, cfg: CorpusConfig) -> Iterator[tuple[str, bool]]:
    """Yield ``(text, True)`` for each row of a TSV (no quoting) or CSV (Excel quoting) table."""
    suffixes = [s.lower() for s in file.suffixes if s.lower() not in (".gz", ".bz2")]
    tsv = bool(suffixes) and suffixes[-1] in (".tsv", ".tab")
    # TSV is read as the IANA format (no quoting: a stray " in a review is text); CSV as Excel writes it.
    dialect = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if tsv else {"delimiter": ","}
    # One review can exceed the csv module's default field limit (128 KiB); the limit is process-wide.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    # The csv parser is given lines with their newline back, as from a file opened with newline="".
    lines = (line + "\n" for line, _ in _text_lines(file, cfg.encoding, cfg.errors, None))
    reader = csv.reader(lines, **dialect)
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
