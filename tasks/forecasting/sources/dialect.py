"""How a spreadsheet export is written: its encoding, separator and decimal mark, and its records.

A file saved by a European spreadsheet is ``Datum;Wert`` with ``1,5`` for one and a half; Excel's
"Unicode text" is UTF-16 with a byte-order mark; an old export is Latin-1. Each of these is read as
written, detected when the config leaves it off (``source.encoding``, ``source.separator``,
``source.decimal``), and every record keeps the row the user's editor shows for it.

A quote that is opened and never closed would make the rest of the file one cell (or trip Python's
csv field limit of 128 KiB): it is refused naming the row the quote opens on.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tasks.errors import InputError, file_read_error, not_a_file_rule

SEPARATORS = (",", ";", "\t", "|")  # tried in this order when source.separator is off
FIELD_LIMIT = 131072  # Python's default csv field limit, in characters
SNIFF_LINES = 50  # non-empty lines the separator and decimal mark are told from (of the first 4x as many)
HEAD_BYTES = 8192  # what encoding detection looks at
_BLOCK_BYTES = 1 << 20  # read and decoded at a time
_BOMS = (  # longest first: the UTF-32 LE mark starts with UTF-16 LE's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BOM_CODECS = frozenset(codec for _, codec in _BOMS)
_COMMA_DECIMAL = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")


@dataclass(frozen=True)
class Dialect:
    """How the file separates cells and writes decimals."""

    separator: str  # one of SEPARATORS, or the configured character
    decimal: str  # "." or ","


def check_readable(path: str | Path, encoding: str | None = None) -> str:
    """Read a text file whole, refusing a missing, empty or binary file.

    Args:
        path: the file.
        encoding: a Python codec name; None detects it (:func:`.dialect.decode`: a byte-order
            mark, UTF-16 without one, UTF-8, else Windows-1252/Latin-1, so a stray accented letter
            in a title does not stop a file whose dates and numbers are ASCII).

    Returns:
        Its text, without a byte-order mark.

    Raises:
        InputError: the file is missing, not a regular file (a FIFO is refused, never waited on),
            unreadable (permissions), empty, binary or not in ``encoding``.
        EnvironmentFault: the disk or share failed while reading it.
    """
    file = _regular_file(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise file_read_error(exc, path) from None
    if not data.strip():
        raise InputError("file is empty", file=path)
    text = decode(path, data, encoding)
    if not text.strip():
        raise InputError("file is empty", file=path)
    return text


def _regular_file(path: str | Path) -> Path:
    """The file at ``path``, refused in one line when missing or not a regular file (a FIFO is never waited on)."""
    file = Path(path)
    if not file.exists():
        raise InputError("file not found", file=path)
    if not file.is_file():
        raise InputError(not_a_file_rule(file), file=path)
    return file


def open_head(path: str | Path) -> bytes:
    """Check that a file can be streamed and return its first bytes, for the encoding's detection.

    Raises:
        InputError: the file is missing, not a regular file (a FIFO is refused, never waited on)
            or unreadable (permissions).
        EnvironmentFault: the disk or share failed while reading it.
    """
    file = _regular_file(path)
    try:
        with file.open("rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError as exc:
        raise file_read_error(exc, path) from None


def decode(path: str | Path, data: bytes, encoding: str | None = None) -> str:
    """Decode a file's bytes, detecting the encoding when ``encoding`` is None.

    Detection: a byte-order mark (UTF-8, UTF-16, UTF-32) says it; UTF-16 without one is known by
    its NUL bytes at every other position of ASCII text; else UTF-8, and Latin-1 (Windows-1252)
    when the bytes are not valid UTF-8. A NUL byte left after that is a binary file.

    Args:
        path: the file, for messages.
        data: its bytes, not empty.
        encoding: a Python codec name (``source.encoding``), or None to detect it.

    Returns:
        The text, without a byte-order mark.

    Raises:
        InputError: the codec is unknown or the bytes do not decode with it; a binary file.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError("unknown encoding; use a Python codec name such as utf-8, utf-16, latin-1 or cp1252",
                             key="source.encoding", value=encoding) from None
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise InputError(f"not {encoding} text: byte {exc.start} ({data[exc.start:exc.start + 1]!r}) does "
                             "not decode; set source.encoding to the file's encoding, or off to detect it",
                             file=path) from None
        return text[1:] if text.startswith("\ufeff") else text
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec).lstrip("\ufeff")
            except UnicodeDecodeError as exc:
                raise InputError(f"starts with a {codec.upper()} byte-order mark but byte {exc.start} does not "
                                 "decode; save it again as UTF-8", file=path) from None
    head = data[:8192]
    even, odd = head[0::2], head[1::2]
    if len(head) >= 4 and odd.count(0) > 0.9 * len(odd) and even.count(0) == 0:
        return _utf16(path, data, "utf-16-le")
    if len(head) >= 4 and even.count(0) > 0.9 * len(even) and odd.count(0) == 0:
        return _utf16(path, data, "utf-16-be")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise InputError(f"binary file (a NUL byte at offset {nul}); expected CSV text", file=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Windows-1252 is Latin-1 with printable characters where Latin-1 has controls; both
        # decode every byte, so a stray accented letter in a title never stops an ASCII file.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def detect_encoding(path: str | Path, head: bytes, encoding: str | None = None) -> str:
    """Settle the codec a file is read with, from its first bytes, as :func:`decode` does for a whole file.

    Detection from ``head`` (the first :data:`HEAD_BYTES` bytes): a byte-order mark, UTF-16 without
    one, a NUL byte (a binary file), else UTF-8; a file that then turns out not to be UTF-8 is read
    again as Windows-1252 (:func:`read_lines`' :class:`Undecodable` tells the caller).

    Args:
        path: the file, for messages.
        head: its first bytes.
        encoding: ``source.encoding``, or None to detect it.

    Raises:
        InputError: an unknown codec name; a binary file.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError("unknown encoding; use a Python codec name such as utf-8, utf-16, latin-1 or cp1252",
                             key="source.encoding", value=encoding) from None
        return encoding
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    even, odd = head[0::2], head[1::2]
    if len(head) >= 4 and odd.count(0) > 0.9 * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if len(head) >= 4 and even.count(0) > 0.9 * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    nul = head.find(b"\x00")
    if nul >= 0:
        raise InputError(f"binary file (a NUL byte at offset {nul}); expected CSV text", file=path)
    return "utf-8"


class Undecodable(Exception):
    """A byte of a file does not decode with the codec it is read with."""

    def __init__(self, offset: int, byte: bytes) -> None:
        super().__init__(f"byte {offset} ({byte!r}) does not decode")
        self.offset, self.byte = offset, byte

    def error(self, path: str | Path, codec: str, configured: bool) -> InputError:
        """The one-line refusal :func:`decode` gives for the same bytes."""
        if configured:
            return InputError(f"not {codec} text: byte {self.offset} ({self.byte!r}) does not decode; set "
                              "source.encoding to the file's encoding, or off to detect it", file=path)
        if codec.startswith("utf-16-"):
            return InputError(f"looks like {codec.upper()} text without a byte-order mark, but byte {self.offset} "
                              "does not decode; set source.encoding", file=path)
        return InputError(f"starts with a {codec.upper()} byte-order mark but byte {self.offset} does not "
                          "decode; save it again as UTF-8", file=path)


def read_lines(path: str | Path, codec: str) -> Iterator[str]:
    """Stream a file's lines, decoded, each with its line end as written (``\n``, ``\r\n`` or ``\r``).

    Lines are split where :class:`io.StringIO` with ``newline=""`` splits them, so records and row
    numbers are those of the whole text; a byte-order mark is dropped. Memory holds one block
    (:data:`_BLOCK_BYTES`) and the line it ends in, whatever the file's size.

    Raises:
        Undecodable: a byte does not decode with ``codec`` (its offset in the file).
        InputError, EnvironmentFault: the file cannot be read (:func:`tasks.errors.file_read_error`).
    """
    decoder = codecs.getincrementaldecoder(codec)()
    offset, pending, first = 0, "", True
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise file_read_error(exc, path) from None
    with raw:
        while True:
            try:
                block = raw.read(_BLOCK_BYTES)
            except OSError as exc:
                raise file_read_error(exc, path) from None
            buffered = len(decoder.getstate()[0])
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                start = offset - buffered + exc.start
                raise Undecodable(start, bytes(exc.object[exc.start:exc.start + 1])) from None
            offset += len(block)
            if first and text:
                text, first = text.lstrip("\ufeff") if codec in _BOM_CODECS else text.removeprefix("\ufeff"), False
            lines = io.StringIO(pending + text, newline="").readlines()
            # A last line without "\n" may go on in the next block ("\r" may be half of "\r\n").
            pending = lines.pop() if block and lines and not lines[-1].endswith("\n") else ""
            yield from lines
            if not block:
                return


def _utf16(path: str | Path, data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise InputError(f"looks like {codec.upper()} text without a byte-order mark, but byte {exc.start} does "
                         "not decode; set source.encoding", file=path) from None


def _widths(lines: Sequence[str], separator: str) -> list[int]:
    try:
        return [len(cells) for cells in csv.reader(lines, delimiter=separator)]
    except csv.Error:
        return []


def sniff(text: str, separator: str | None = None, decimal: str | None = None) -> Dialect:
    """Settle the separator and the decimal mark: the ones given, else detected from the first lines.

    The separator is, among :data:`SEPARATORS`, the one that splits the header into the most
    columns (two or more) and at least 80 % of the next lines into as many; a comma when none does.
    The decimal mark is ``,`` when the separator is not a comma and a cell is written like
    ``1,5`` or ``1.234,5``; else ``.``.

    Args:
        text: the decoded file.
        separator: ``source.separator``, or None to detect it.
        decimal: ``source.decimal``, or None to detect it.
    """
    lines = [line for line in text.splitlines()[: SNIFF_LINES * 4] if line.strip()][:SNIFF_LINES]
    if separator is None:
        separator = ","
        best = 1
        for candidate in SEPARATORS:
            widths = _widths(lines, candidate)
            if not widths or widths[0] < 2:
                continue
            agree = sum(w == widths[0] for w in widths[1:])
            if (len(widths) == 1 or agree >= 0.8 * (len(widths) - 1)) and widths[0] > best:
                separator, best = candidate, widths[0]
    if decimal is None:
        decimal = "."
        if separator != ",":
            cells = (c.strip() for row in csv.reader(lines[1:], delimiter=separator) for c in row)
            if any(_COMMA_DECIMAL.match(c) for c in cells):
                decimal = ","
    return Dialect(separator, decimal)


def read_records(text: str, separator: str = ",", path: str | Path | None = None) -> list[tuple[int, list[str]]]:
    """Split CSV text into records, each with the editor row it starts on (:func:`iter_records` on the whole text).

    Returns:
        ``(row, cells)`` per record, blank lines included (as empty or all-empty cell lists); a
        quoted cell spanning lines keeps the row it starts on.
    """
    return list(iter_records(io.StringIO(text, newline=""), separator, path))


def iter_records(lines: Iterable[str], separator: str = ",", path: str | Path | None = None
                 ) -> Iterator[tuple[int, list[str]]]:
    """Stream CSV records from lines (each with its line end), each with the editor row it starts on.

    Args:
        lines: the file's lines, as :func:`read_lines` or ``io.StringIO(text, newline="")`` give them.
        separator: the cell separator.
        path: the file, for messages.

    Yields:
        ``(row, cells)`` per record, blank lines included (as empty or all-empty cell lists); a
        quoted cell spanning lines keeps the row it starts on.

    Raises:
        InputError: a quote opened on a row is never closed (the rest of the file would be one
            cell), or a cell is longer than Python's csv field limit (131072 characters).
    """
    # The limit is process-wide and other readers raise it (a corpus table's long reviews): this
    # reader's rule is the default, set while it reads and given back whenever it stops.
    before = csv.field_size_limit(FIELD_LIMIT)
    try:
        yield from _records(lines, separator, path)
    finally:
        csv.field_size_limit(before)


def _records(lines: Iterable[str], separator: str, path: str | Path | None) -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []  # the lines of the record being read: one, unless a quoted cell spans lines

    def fed() -> Iterator[str]:
        for text in lines:
            seen.append(text)
            yield text

    reader = csv.reader(fed(), delimiter=separator)
    line = 0
    while True:
        seen.clear()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise InputError(f"a cell longer than {FIELD_LIMIT:,} characters (the csv reader's limit) starts "
                                 "here; is a quote opened on this row never closed?", file=path, row=line + 1) from None
            raise InputError(f"not readable as CSV ({exc})", file=path, row=line + 1) from None
        start = line + 1
        line = reader.line_num
        # A record ends at a line end outside quotes or at the end of the file: one whose lines
        # end inside a quote ran to the end of the file, which the lenient reader takes as closing it.
        if line > start and _unclosed_quote("".join(seen), separator):
            raise InputError(f"a quote opened on this row is never closed: the {line - start} lines after it would "
                             "be one cell; close the quote or remove it", file=path, row=start)
        yield start, cells


def _unclosed_quote(text: str, separator: str) -> bool:
    """Tell whether the text ends inside a quote it never closed.

    The lenient reader takes the end of the file as the closing quote; a strict one says so.
    """
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=separator):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False
