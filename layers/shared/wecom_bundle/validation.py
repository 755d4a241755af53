"""Request validation that names the offending field, shared by every admin route."""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from typing import Any

from wecom_bundle.domain_errors import InvalidField
from wecom_bundle.domain_errors import NotFound as NotFound  # re-exported: the services import it from here

# Every validator raises ``ValidationError``: the domain's InvalidField under the name its callers know.
ValidationError = InvalidField


MAX_PAGE = 100
DEFAULT_PAGE = 50
_TIMESTAMP = "must be epoch seconds or an ISO 8601 timestamp"


def page_size(raw: str | None) -> int:
    """A page size from a query string, DEFAULT_PAGE when absent; its range (1..MAX_PAGE) is the admin
    route's query model's."""
    return int(raw) if raw else DEFAULT_PAGE


# Timestamps the API accepts: 1970-01-01 up to the end of 9999 UTC (what datetime and the YYYY-MM month
# partitions can represent). Outside it, a value is a 400, never a 500.
EARLIEST_TS = 0
LATEST_TS = 253_402_300_800
_RANGE = "must lie between 1970-01-01 and 9999-12-31 (UTC)"


def parse_timestamp(value: Any, field: str, zone: tzinfo) -> int:
    """Epoch seconds (a number or ASCII digits) or ISO 8601, as whole epoch seconds within
    [EARLIEST_TS, LATEST_TS). An ISO time without an offset is read in ``zone``, the business time zone
    (``WELCOME_TIMEZONE``): operators type the wall-clock time they mean, and one zone reads every such time."""
    moment = _timestamp(value, field, zone)
    if not EARLIEST_TS <= moment < LATEST_TS:
        raise ValidationError(field, _RANGE)
    return moment


def _timestamp(value: Any, field: str, zone: tzinfo) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if not isinstance(value, str):
        raise ValidationError(field, _TIMESTAMP)
    if value.isascii() and value.isdigit():
        if len(value) > 12:  # int() of a megabyte of digits is slow; anything this long is out of range
            raise ValidationError(field, _RANGE)
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return int((moment if moment.tzinfo else moment.replace(tzinfo=zone)).timestamp())
    except (ValueError, OverflowError) as exc:  # OverflowError: year 1 or 9999 shifted by its offset
        raise ValidationError(field, _TIMESTAMP) from exc


# ------------------------------------------------------------------------------------------------ raw input
MAX_JSON_DEPTH = 32  # DynamoDB nests at most 32 levels; no admin body needs more than 6
MAX_KEY_CHARS = 128  # every known key is a short name; field paths in errors stay short


def check_text(value: str, field: str) -> str:
    """A string that can be stored and encoded: no lone surrogates (JSON's ``\\ud800`` decodes to one, and
    UTF-8 encoding then fails far from here) and no NUL."""
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF or code == 0:
            raise ValidationError(field, "must be valid Unicode text (no lone surrogates or NUL characters)")
    return value


def check_json(doc: Any, field: str = "body") -> Any:
    """Walk a parsed JSON body once, without recursion: bounded depth, every key and string valid text.
    The field named on failure is the path of the offending value (``match.state``, ``attachments[2]``)."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValidationError(path or field, f"nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, str):
            check_text(value, path or field)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else key
                if len(key) > MAX_KEY_CHARS:
                    raise ValidationError(path or field, f"has a key longer than {MAX_KEY_CHARS} characters")
                check_text(key, path or field)
                stack.append((item, name, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
    return doc
