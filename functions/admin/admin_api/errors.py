"""The one place where a model's refusal becomes the contract's 400: ``{"error": {"code":
"invalid_request", "message", "field"}}``, with ``field`` the input's path as the layer's validators name it
(``attachments[0].link.url``, ``text.content``, ``limit``, ``body``), never Powertools' default 422 and never
the offending value (pydantic's ``input`` is dropped; only its ``loc`` and ``type`` are read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# pydantic names the member of a union that failed inside the location (``send_at.int``): not a field.
_UNION_MEMBERS = {"int", "float", "str", "bool", "list", "dict", "none", "constrained-str"}
_SOURCES = {"body", "query", "path", "header", "cookie"}
# Lists the layer's validators name as a whole when an item is wrong (``match.weekdays``, not ``[0]``).
_WHOLE_LISTS = {"match.weekdays", "msgids"}
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "json_invalid": "is not valid JSON",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "float_type": "must be a number",
    "string_pattern_mismatch": "does not have the documented form (see /admin/openapi.json)",
}


def field_path(loc: Sequence[Any]) -> str:
    """``("body", "attachments", 0, "link", "url")`` → ``attachments[0].link.url``; the body itself → body."""
    parts = list(loc)
    if parts[:1] == ["header"] and len(parts) == 2:  # API Gateway lowercases names: Idempotency-Key
        return "-".join(word.capitalize() for word in str(parts[1]).split("-"))
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _UNION_MEMBERS or "[" in str(part):
            continue
        else:
            path += f".{part}" if path else str(part)
    whole = path.rsplit("[", 1)[0]
    return whole if whole in _WHOLE_LISTS else path or "body"


def message_of(error: dict[str, Any]) -> str:
    """A short message of pydantic's error type; pydantic's own ``msg`` names limits, never the input."""
    kind = str(error.get("type", ""))
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    ctx = error.get("ctx") or {}
    if kind in ("too_long", "too_short"):
        bound = ctx.get("max_length") if kind == "too_long" else ctx.get("min_length")
        return f"at {'most' if kind == 'too_long' else 'least'} {bound} entries"
    return (
        str(error.get("msg", "is not valid")).replace("Input should", "must").replace("String should", "must")
    )


def refusal(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The contract's 400 body for the error the layer's validators would have named first: an attachment's
    msgtype, an unknown field (they refuse those before reading any value; the outermost one), else
    pydantic's first error."""
    msgtype = [e for e in errors if e.get("loc", ())[-1:] == ("msgtype",)]  # it decides what else is known
    unknown = sorted((e for e in errors if e.get("type") == "extra_forbidden"), key=lambda e: len(e["loc"]))
    first = (msgtype or unknown or list(errors) or [{"loc": ("body",), "type": "missing"}])[0]
    field = field_path(first.get("loc", ()))
    message = (
        "a JSON body is required" if (field, first.get("type")) == ("body", "missing") else message_of(first)
    )
    return {"error": {"code": "invalid_request", "message": message, "field": field}}
