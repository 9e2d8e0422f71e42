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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tasks.errors import InputError

SEPARATORS = (",", ";", "\t", "|")  # tried in this order when source.separator is off
FIELD_LIMIT = 131072  # Python's default csv field limit, in characters
_SNIFF_LINES = 50
_BOMS = (  # longest first: the UTF-32 LE mark starts with UTF-16 LE's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_COMMA_DECIMAL = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")


@dataclass(frozen=True)
class Dialect:
    """How the file separates cells and writes decimals."""

    separator: str  # one of SEPARATORS, or the configured character
    decimal: str  # "." or ","


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
    lines = [line for line in text.splitlines()[: _SNIFF_LINES * 4] if line.strip()][:_SNIFF_LINES]
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
    """Split CSV text into records, each with the editor row it starts on.

    Args:
        text: the whole file.
        separator: the cell separator.
        path: the file, for messages.

    Returns:
        ``(row, cells)`` per record, blank lines included (as empty or all-empty cell lists); a
        quoted cell spanning lines keeps the row it starts on.

    Raises:
        InputError: a quote opened on a row is never closed (the rest of the file would be one
            cell), or a cell is longer than Python's csv field limit (131072 characters).
    """
    # The limit is process-wide and other readers raise it (a corpus table's long reviews): this
    # reader's rule is the default, set for its own reading and given back after.
    before = csv.field_size_limit(FIELD_LIMIT)
    try:
        return _records(text, separator, path)
    finally:
        csv.field_size_limit(before)


def _records(text: str, separator: str, path: str | Path | None) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    records = []
    line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise InputError(f"a cell longer than {FIELD_LIMIT:,} characters (the csv reader's limit) starts "
                                 "here; is a quote opened on this row never closed?", file=path, row=line + 1) from None
            raise InputError(f"not readable as CSV ({exc})", file=path, row=line + 1) from None
        start = line + 1
        line = reader.line_num
        if line > start and line >= _line_count(text) and _unclosed_quote(text, separator):
            raise InputError(f"a quote opened on this row is never closed: the {line - start} lines after it would "
                             "be one cell; close the quote or remove it", file=path, row=start)
        records.append((start, cells))
    return records


def _line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") else 1)


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
