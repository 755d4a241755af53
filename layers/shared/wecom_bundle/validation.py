"""Request validation errors that name the offending field, shared by every admin route."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any


class ValidationError(ValueError):
    """Bad input: becomes a 400 ``{"error": {"code": "invalid_request", "field": ..., "message": ...}}``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(LookupError):
    """The addressed entity does not exist (404)."""


class Refused(Exception):
    """A refusal with its HTTP status and contract error code (extra fields go into the error object)."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


MAX_PAGE = 100
DEFAULT_PAGE = 50
_TIMESTAMP = "must be epoch seconds or an ISO 8601 timestamp"


def parse_limit(raw: str | None) -> int:
    """A page size from a query string: 1..MAX_PAGE, DEFAULT_PAGE when absent."""
    if raw in (None, ""):
        return DEFAULT_PAGE
    text = str(raw)
    # isascii: str.isdigit() also accepts digits such as '²' that int() refuses.
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
        raise ValidationError("limit", f"must be an integer from 1 to {MAX_PAGE}")
    return int(text)


def parse_timestamp(value: Any, field: str) -> int:
    """Epoch seconds (a number or ASCII digits) or ISO 8601 (naive means UTC), as whole epoch seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if not isinstance(value, str):
        raise ValidationError(field, _TIMESTAMP)
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(field, _TIMESTAMP) from exc
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def require_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(field, "must be a JSON object")
    return value


def reject_unknown(doc: dict[str, Any], allowed: set[str] | frozenset[str], prefix: str = "") -> None:
    """Unknown keys are errors, not silently ignored: a typo must not become a rule that never matches."""
    for key in doc:
        if key not in allowed:
            raise ValidationError(f"{prefix}{key}", "is not a known field")


def optional_str(
    doc: dict[str, Any], key: str, field: str, *, max_bytes: int | None = None, required: bool = False
) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise ValidationError(field, "is required")
        return None
    if not isinstance(value, str) or (required and not value):
        raise ValidationError(field, "must be a non-empty string" if required else "must be a string")
    if max_bytes is not None and len(value.encode("utf-8")) > max_bytes:
        raise ValidationError(field, f"must be at most {max_bytes} bytes in UTF-8")
    return value


def optional_int(
    doc: dict[str, Any], key: str, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be an integer")
    if minimum is not None and value < minimum:
        raise ValidationError(field, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ValidationError(field, f"must be at most {maximum}")
    return value
