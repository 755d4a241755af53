"""Audience files: the customers (or group chats) a campaign goes to.

Operators export audiences from spreadsheets and CRMs, so the reader is forgiving where it is safe to be
(a UTF-8 BOM, blank lines, ``#`` comments, surrounding spaces, duplicates) and strict where a mistake would
send to the wrong people (a CSV without the named column is an error, never "the first column").

Two shapes:
- a plain list, one id per line (a first line equal to the column name is taken as a header);
- a CSV with a header row (detected by a comma, tab or semicolon in the first line); ``column`` names the
  column to read (default ``external_userid``).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable
from pathlib import Path

from wecomctl.http import UsageError

DEFAULT_COLUMN = "external_userid"
_DELIMITERS = ",\t;"


def read_audience(path: str, column: str = DEFAULT_COLUMN) -> list[str]:
    """The de-duplicated ids of the file at ``path`` (``-`` is stdin), in file order."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read audience file {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"audience file {path} is not UTF-8 (save it as UTF-8 or CSV UTF-8)") from exc
    ids = parse_audience(text, column)
    if not ids:
        raise UsageError(f"audience file {path} has no ids in it")
    return ids


def parse_audience(text: str, column: str = DEFAULT_COLUMN) -> list[str]:
    """Ids from the text of an audience file (see the module docstring for the accepted shapes)."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if _is_data(line)]
    if not lines:
        return []
    first = lines[0]
    if any(d in first for d in _DELIMITERS):
        return _unique(_csv_column(lines, column))
    if _clean(first) == column:
        lines = lines[1:]
    return _unique(_clean(line) for line in lines)


def _is_data(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _clean(value: str) -> str:
    return value.strip().strip('"').strip()


def _csv_column(lines: list[str], column: str) -> list[str]:
    """The values of ``column``; the delimiter is the first of comma, tab, semicolon in the header."""
    delimiter = next(d for d in _DELIMITERS if d in lines[0])
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    header = [_clean(name) for name in next(reader)]
    if column not in header:
        raise UsageError(
            f"the audience CSV has no column {column!r} (columns: {', '.join(header)}); choose one with --column"
        )
    index = header.index(column)
    return [_clean(row[index]) for row in reader if len(row) > index]


def _unique(values: Iterable[str]) -> list[str]:
    """Drop empties and repeats, keeping the first occurrence's order (so the request is reproducible)."""
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return list(seen)
