"""A channel PUT body's rules across fields, after the admin model checked its shape (types, lengths, the
id and tag patterns, list sizes, unknown keys).

Why the welcome goes through ``content.validate_content``: a channel's welcome is sent exactly like a welcome
rule's content, so it is held to the same rules (text and attachments not both empty, one part per
attachment, an id or a bucket reference, the %NICKNAME% room), named under ``welcome.``.
"""

from __future__ import annotations

from typing import Any

from wecom_bundle.channels.model import CHANNEL_ID_PATTERN
from wecom_bundle.content import check_nickname_room, validate_content
from wecom_bundle.domain_errors import InvalidField
from wecom_bundle.validation import ValidationError


def is_channel_id(value: Any) -> bool:
    """Whether ``value`` can be a channel id (and so a State this product would have written)."""
    return isinstance(value, str) and CHANNEL_ID_PATTERN.fullmatch(value) is not None


def validate_channel_id(value: str) -> str:
    if not is_channel_id(value):
        raise ValidationError("channel_id", "must be 1 to 30 of A-Z, a-z, 0-9, '_' or '-' (WeCom's state)")
    return value


def _unique(values: list[str], field: str) -> list[str]:
    """The list, refused (naming the list, as the document's rule does, and the entry's position, never its
    value) when an entry repeats an earlier one."""
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise ValidationError(field, f"entry {i} repeats an earlier one: list each once")
        seen.add(value)
    return values


def _welcome(value: dict[str, Any]) -> dict[str, Any]:
    """The welcome as welcome rules store their content: ``attachments`` (a list) and ``text`` when given."""
    try:
        text, attachments = validate_content(value)
        if text is not None:
            check_nickname_room(text["content"], "text.content")
    except InvalidField as exc:
        raise ValidationError(f"welcome.{exc.field}", exc.message) from exc
    return {"attachments": attachments} | ({"text": text} if text is not None else {})


def parse_channel(body: dict[str, Any]) -> dict[str, Any]:
    """The stored fields of a PUT body: defaults filled (``skip_verify`` true, ``tags`` []), optional
    fields present only when given, duplicates refused."""
    fields: dict[str, Any] = {
        "name": body["name"],
        "members": _unique(list(body["members"]), "members"),
        "skip_verify": body.get("skip_verify", True),
        "tags": _unique(list(body.get("tags") or []), "tags"),
    }
    if body.get("remark"):
        fields["remark"] = body["remark"]
    if body.get("welcome") is not None:
        fields["welcome"] = _welcome(body["welcome"])
    return fields
