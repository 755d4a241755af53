"""Opaque cursors and WeCom's ``limit`` rule for the paginated mass-send APIs.

Why opaque and signed: a client must treat ``next_cursor`` as a token, not an offset it can compute or reuse
across queries. A cursor is bound to its query (scope) with an HMAC under a per-reset key, so a forged,
truncated or cross-query cursor fails like WeCom's (50100) instead of silently returning the wrong page.
``limit`` above the maximum falls back to the default, as the official pages say ("超过最大值时取默认值").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, TypeVar

from . import errors
from .errors import WeComError

T = TypeVar("T")
_MAC_BYTES = 8


def resolve_limit(value: Any, default: int, maximum: int) -> int:
    """Missing, zero, negative or above ``maximum``: the default. Not an integer: 40058."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise WeComError(errors.INVALID_PARAMETER, "limit must be an integer")
    return value if 0 < value <= maximum else default


def _mac(key: bytes, scope: str, offset: int) -> bytes:
    return hmac.new(key, f"{scope}\n{offset}".encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(key: bytes, scope: str, offset: int) -> str:
    raw = offset.to_bytes(4, "big") + _mac(key, scope, offset)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(key: bytes, scope: str, cursor: Any) -> int:
    """The offset a cursor stands for ("" = start); 50100 for anything not minted for this query."""
    if cursor is None or cursor == "":
        return 0
    if not isinstance(cursor, str):
        raise WeComError(errors.INVALID_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise WeComError(errors.INVALID_CURSOR) from None
    if len(raw) != 4 + _MAC_BYTES:
        raise WeComError(errors.INVALID_CURSOR)
    offset = int.from_bytes(raw[:4], "big")
    if not hmac.compare_digest(raw[4:], _mac(key, scope, offset)):
        raise WeComError(errors.INVALID_CURSOR)
    return offset


def page(
    items: Sequence[T], key: bytes, scope: str, cursor: Any, limit: int, *, trailing_empty: bool = False
) -> tuple[list[T], str]:
    """One page of ``items`` and the cursor of the next one ("" on the last page). ``trailing_empty``: the
    last rows come with a cursor anyway, and that cursor answers an empty page (as WeCom sometimes does)."""
    offset = decode_cursor(key, scope, cursor)
    chunk = list(items[offset : offset + limit])
    end = offset + len(chunk)
    more = end < len(items) or (trailing_empty and bool(chunk))
    return chunk, (encode_cursor(key, scope, end) if more else "")
