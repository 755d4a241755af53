"""Audience files: the customers (or group chats) a campaign goes to.

Operators export audiences from spreadsheets and CRMs, so the reader is forgiving where it is safe to be
(a UTF-8 BOM, blank lines, ``#`` comments, surrounding spaces, duplicates) and strict where a mistake would
send to the wrong people (a CSV without the named column is an error, never "the first column"; an id that
cannot be one is an error naming its line, never sent on to WeCom).

Two shapes:
- a plain list, one id per line. Its first line is a header, skipped, when it is the column name or cannot
  be an id (``customer_id``, ``ID``, ``客户ID``: a title of letters, spaces, ``_`` and ``-`` only; WeCom's
  ids carry digits);
- a CSV with a header row (detected by a comma, tab or semicolon in the first line); ``column`` names the
  column to read (default ``external_userid``).

A well-formed id is what the stack accepts as one (``MAX_ID_BYTES`` below is the layer's
``campaigns.validation.MAX_ID_BYTES``; the callback takes ``ExternalUserID`` by the same rule): 1 to 128
bytes of UTF-8, printable, without blanks or ``#``.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wecomctl.http import UsageError

DEFAULT_COLUMN = "external_userid"
MAX_ID_BYTES = 128
_DELIMITERS = ",\t;"
_TITLE_EXTRAS = " _-"
_SHOWN_CHARS = 40  # of a refused value in an error message


@dataclass(frozen=True)
class Audience:
    """The ids of a file, in file order, without repeats; what was left out, for the operator's note."""

    ids: list[str]
    header: str | None  # the plain list's first line, taken as a header
    repeats: int

    def summary(self, path: str) -> str:
        """``read 3 ids from a.txt (header 'customer_id' skipped, 1 repeat dropped)``."""
        extras = [f"header {self.header!r} skipped"] if self.header is not None else []
        if self.repeats:
            extras.append(f"{self.repeats} repeat{'s' if self.repeats > 1 else ''} dropped")
        noun = "id" if len(self.ids) == 1 else "ids"
        return f"read {len(self.ids)} {noun} from {path}" + (f" ({', '.join(extras)})" if extras else "")


def read_audience(path: str, column: str = DEFAULT_COLUMN) -> Audience:
    """The audience of the file at ``path`` (``-`` is stdin)."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read audience file {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"audience file {path} is not UTF-8 (save it as UTF-8 or CSV UTF-8)") from exc
    try:
        audience = parse_audience(text, column)
    except UsageError as error:
        raise UsageError(f"audience file {path}: {error}") from None
    if not audience.ids:
        raise UsageError(f"audience file {path} has no ids in it")
    return audience


def parse_audience(text: str, column: str = DEFAULT_COLUMN) -> Audience:
    """The audience in the text of a file (see the module docstring for the accepted shapes)."""
    lines = [
        (number, line) for number, line in enumerate(text.lstrip("\ufeff").splitlines(), 1) if _is_data(line)
    ]
    if not lines:
        return Audience([], None, 0)
    first = lines[0][1]
    if any(d in first for d in _DELIMITERS):
        return _unique(_csv_column(lines, column), None)
    header = _clean(first)
    if header == column or _is_title(header) or not is_id(header):
        return _unique(((n, _clean(line)) for n, line in lines[1:]), header)
    return _unique(((n, _clean(line)) for n, line in lines), None)


def is_id(value: str) -> bool:
    """A well-formed customer or group chat id (see the module docstring)."""
    return (
        0 < len(value.encode("utf-8")) <= MAX_ID_BYTES
        and value.isprintable()
        and not any(char.isspace() or char == "#" for char in value)
    )


def _is_title(value: str) -> bool:
    return all(char.isalpha() or char in _TITLE_EXTRAS for char in value)


def _is_data(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _clean(value: str) -> str:
    return value.strip().strip('"').strip()


def _csv_column(lines: list[tuple[int, str]], column: str) -> list[tuple[int, str]]:
    """The values of ``column`` with their line numbers; the delimiter is the first of comma, tab, semicolon
    in the header."""
    delimiter = next(d for d in _DELIMITERS if d in lines[0][1])
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)), delimiter=delimiter)
    header = [_clean(name) for name in next(reader)]
    if column not in header:
        raise UsageError(
            f"the audience CSV has no column {column!r} (columns: {', '.join(header)}); choose one with --column"
        )
    index = header.index(column)
    # reader.line_num counts the lines read so far: the record's last line, in the file's numbering below
    return [(lines[reader.line_num - 1][0], _clean(row[index])) for row in reader if len(row) > index]


def _unique(values: Iterable[tuple[int, str]], header: str | None) -> Audience:
    """Drop empties and repeats, keeping the first occurrence's order (so the request is reproducible);
    refuse the first malformed id, naming its line."""
    seen: dict[str, None] = {}
    repeats = 0
    for number, value in values:
        if not value:
            continue
        if not is_id(value):
            shown = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"
            raise UsageError(
                f"line {number}: {shown!r} is not an id (1 to {MAX_ID_BYTES} bytes, printable, "
                "no spaces or '#')"
            )
        repeats += value in seen
        seen.setdefault(value, None)
    return Audience(list(seen), header, repeats)
