"""Human output: aligned tables and key/value blocks, plus the few value formatters commands share.

No table library: operators install the CLI next to boto3 and nothing else. Widths are terminal cells, not
code points, because WeCom content is mostly Chinese and a CJK character takes two cells.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from wecomctl.http import UsageError

MAX_CELL = 48  # long texts are cut so one row stays one line
ELLIPSIS = "…"
EMPTY = "-"
# The stack's business time zone, asked only when a time is about to be printed (``Context.zone``): a
# command whose answer holds no time costs no extra request.
ZoneSource = Callable[[], tzinfo]


@dataclass(frozen=True)
class Column:
    """One table column: the header, how to get the cell from a row, and whether numbers align right."""

    header: str
    key: str
    right: bool = False
    max_width: int = MAX_CELL


def cell_width(text: str) -> int:
    """Terminal cells taken by ``text``: wide (CJK) characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` cells, marking the cut with an ellipsis."""
    if cell_width(text) <= limit:
        return text
    out, used = [], 0
    for char in text:
        step = cell_width(char)
        if used + step > limit - 1:
            break
        out.append(char)
        used += step
    return "".join(out) + ELLIPSIS


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - cell_width(text))
    return gap + text if right else text + gap


def one_line(value: Any) -> str:
    """A cell's text: None as '-', lists comma-joined, newlines and tabs flattened."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return ", ".join(one_line(v) for v in value) or EMPTY
    return " ".join(str(value).split())


def table(rows: Iterable[dict[str, Any]], columns: Sequence[Column]) -> str:
    """Rows under a header, each column as wide as its widest cell; the last column is not padded."""
    cells = [[truncate(one_line(row.get(c.key)), c.max_width) for c in columns] for row in rows]
    widths = [
        max([cell_width(c.header)] + [cell_width(line[i]) for line in cells]) for i, c in enumerate(columns)
    ]
    lines = []
    for line in [[c.header for c in columns], *cells]:
        padded = [_pad(text, widths[i], columns[i].right) for i, text in enumerate(line)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def key_values(pairs: Sequence[tuple[str, Any]]) -> str:
    """``key: value`` lines with the values aligned (for ``get``/``show`` of one entity)."""
    width = max((cell_width(k) for k, _ in pairs), default=0)
    return "\n".join(f"{_pad(k + ':', width + 1, False)} {one_line(v)}" for k, v in pairs)


def format_time(value: Any, zone: ZoneSource) -> str:
    """Epoch seconds or milliseconds (or an ISO string) as ``2026-12-08 06:04 +08:00``: the wall-clock time
    in ``zone()``, the stack's business time zone (``WELCOME_TIMEZONE``), with its offset.

    The business zone, not the host's, because the stack reads every time an operator types without an
    offset in it, and counts its days (channel stats, the mass-send cap) in it: one zone on both sides.
    The offset because the host's clock may be elsewhere, and a bare time would be ambiguous.
    """
    if value is None or value == "":
        return EMPTY
    if isinstance(value, str) and not value.isdigit():
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return _wall_clock(moment.astimezone(zone())) if moment.tzinfo else value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    seconds = number / 1000 if number > 100_000_000_000 else number
    try:
        return _wall_clock(datetime.fromtimestamp(seconds, zone()))
    except (OverflowError, OSError, ValueError):
        return str(value)


def iso_time(value: Any, zone: ZoneSource) -> Any:
    """Epoch seconds as ISO 8601 in the business zone with its offset (``2026-12-08T06:04:00+08:00``), for
    files a spreadsheet reads; anything else (None, text) as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, zone()).isoformat(timespec="seconds")
    return value


def _wall_clock(moment: datetime) -> str:
    offset = moment.strftime("%z")  # +0800
    return f"{moment:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def time_option(text: str, option: str) -> str:
    """A time option as the API takes it: epoch seconds or ISO 8601, passed on unchanged.

    A time typed without an offset is the business zone's wall-clock time: the API reads it in
    ``WELCOME_TIMEZONE``, so the CLI must not attach the host's offset. Checked here only so that a typo is
    a usage error naming the option before any request.
    """
    if text.isdigit():
        return text
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"{option} {text!r} is neither ISO 8601 (2025-06-01T09:00) nor epoch seconds"
        ) from exc
    return text


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
