"""Validation of ``POST /admin/campaigns`` bodies against the official add_msg_template page (seed 004).

Why everything is checked here, before any WeCom call: a mass-send task cannot be edited, only cancelled,
and a request WeCom refuses halfway through a 30 000-customer audience leaves some chunks created and
others not. Every rule raises ``ValidationError(field, message)`` naming the offending field (a 400).
"""

from __future__ import annotations

import re
from typing import Any

from wecom_bundle.campaigns.reminder_policy import ReminderPolicy, parse_policy
from wecom_bundle.content import validate_attachments, validate_text
from wecom_bundle.validation import (
    ValidationError,
    optional_str,
    parse_timestamp,
    reject_unknown,
    require_object,
)

CHAT_TYPES = ("single", "group")
MAX_CHAT_IDS = 2_000  # chat_id_list, per call (page 004)
MAX_TAGS_PER_GROUP = 100  # tag_filter.group_list[].tag_list (page 004)
MAX_AUDIENCE = 100_000  # our own cap: 10 calls of 10 000, a ~4 MB body (Lambda takes 6 MB)
MAX_ID_BYTES = 128
MAX_NAME_CHARS = 200
MAX_SCHEDULE_AHEAD_S = 366 * 24 * 3600
SENDER_MAX_BYTES = 64
MAX_URL_BYTES = 2048  # link.url, link.picurl (page 004)
FIELDS = frozenset(
    {
        "chat_type",
        "external_userid",
        "chat_id_list",
        "tag_filter",
        "sender",
        "allow_select",
        "text",
        "attachments",
        "name",
        "send_at",
        "reminders",
    }
)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces (UUIDs, ULIDs, ...)


def parse_campaign(body: Any, now: float) -> dict[str, Any]:
    """The normalised campaign spec (also the input of the idempotency hash)."""
    doc = require_object(body, "body")
    reject_unknown(doc, FIELDS)
    chat_type = _chat_type(doc.get("chat_type"))
    text = validate_text(doc.get("text"))
    attachments = validate_attachments(doc.get("attachments"))
    _check_link_urls(attachments)
    if text is None and not attachments:
        raise ValidationError("text", "text and attachments cannot both be empty")
    spec: dict[str, Any] = {
        "chat_type": chat_type,
        "text": text,
        "attachments": attachments,
        "sender": optional_str(doc, "sender", "sender", max_bytes=SENDER_MAX_BYTES) or None,
        "name": _name(doc.get("name")),
        "send_at": parse_send_at(doc.get("send_at"), now),
        "reminders": parse_policy(doc.get("reminders")).as_dict(),
    }
    spec.update(_group_audience(doc, spec) if chat_type == "group" else _single_audience(doc, spec))
    return spec


def _check_link_urls(attachments: list[dict[str, Any]]) -> None:
    """Page 004 caps link.url and link.picurl at 2048 bytes (the shared content rules do not)."""
    for i, attachment in enumerate(attachments):
        for key in ("url", "picurl"):
            value = attachment.get("link", {}).get(key) or ""
            if len(value.encode("utf-8")) > MAX_URL_BYTES:
                raise ValidationError(
                    f"attachments[{i}].link.{key}", f"must be at most {MAX_URL_BYTES} bytes"
                )


def _chat_type(value: Any) -> str:
    if value is None:
        return "single"
    if value not in CHAT_TYPES:
        raise ValidationError("chat_type", "must be single or group")
    return str(value)


def _name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
        raise ValidationError("name", f"must be a string of at most {MAX_NAME_CHARS} characters")
    return value or None


def _id_list(value: Any, field: str, maximum: int) -> list[str]:
    """A list of non-empty ids, duplicates dropped (first occurrence kept: chunks stay stable)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(field, "must be a list of strings")
    if len(value) > maximum:
        raise ValidationError(field, f"at most {maximum} entries")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item or len(item.encode("utf-8")) > MAX_ID_BYTES:
            raise ValidationError(
                f"{field}[{i}]", f"must be a non-empty string of at most {MAX_ID_BYTES} bytes"
            )
    return list(dict.fromkeys(value))


def _forbid(doc: dict[str, Any], field: str, message: str) -> None:
    if doc.get(field) is not None:
        raise ValidationError(field, message)


def _single_audience(doc: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Customers: external_userid (split by 10 000 later), and/or sender, or a tag_filter (page 004)."""
    _forbid(doc, "chat_id_list", "is only valid when chat_type is group")
    external = _id_list(doc.get("external_userid"), "external_userid", MAX_AUDIENCE)
    tag_filter = parse_tag_filter(doc.get("tag_filter"))
    if external and tag_filter is not None:
        raise ValidationError("tag_filter", "has no effect when external_userid is given (page 004)")
    if not external and not spec["sender"] and tag_filter is None:
        raise ValidationError("external_userid", "external_userid, sender and tag_filter cannot all be empty")
    allow_select = doc.get("allow_select")
    if allow_select is not None and not isinstance(allow_select, bool):
        raise ValidationError("allow_select", "must be true or false")
    return {
        "external_userid": external,
        "chat_id_list": [],
        "tag_filter": tag_filter,
        "allow_select": allow_select,
    }


def _group_audience(doc: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Customer groups: the sender's chats, or the listed ones (at most 2 000); sender is required."""
    _forbid(doc, "external_userid", "is only valid when chat_type is single")
    _forbid(doc, "tag_filter", "selects customers: only valid when chat_type is single")
    _forbid(doc, "allow_select", "is only supported when sending to customers (chat_type single)")
    if not spec["sender"]:
        raise ValidationError("sender", "is required when chat_type is group")
    chat_ids = _id_list(doc.get("chat_id_list"), "chat_id_list", MAX_CHAT_IDS)
    return {"external_userid": [], "chat_id_list": chat_ids, "tag_filter": None, "allow_select": None}


def parse_tag_filter(value: Any) -> dict[str, Any] | None:
    """``{"group_list": [{"tag_list": ["tag", ...]}, ...]}``: OR within a group, AND across groups."""
    if value is None:
        return None
    doc = require_object(value, "tag_filter")
    reject_unknown(doc, {"group_list"}, "tag_filter.")
    groups = doc.get("group_list")
    if not isinstance(groups, list) or not groups:
        raise ValidationError("tag_filter.group_list", "must be a non-empty list")
    out = []
    for i, group in enumerate(groups):
        where = f"tag_filter.group_list[{i}]"
        reject_unknown(require_object(group, where), {"tag_list"}, f"{where}.")
        tags = _id_list(group.get("tag_list"), f"{where}.tag_list", MAX_TAGS_PER_GROUP)
        if not tags:
            raise ValidationError(f"{where}.tag_list", "must be a non-empty list of tag ids")
        out.append({"tag_list": tags})
    return {"group_list": out}


def parse_send_at(value: Any, now: float) -> int | None:
    """Epoch seconds or ISO 8601 (naive means UTC); None or a time not in the future means "send now"."""
    if value is None or value == "":
        return None
    moment = parse_timestamp(value, "send_at")
    if moment < 0 or moment > now + MAX_SCHEDULE_AHEAD_S:
        raise ValidationError("send_at", "must be within the next 366 days")
    return moment


def parse_idempotency_key(value: str | None) -> str | None:
    """The header's key, or None when the header is absent. Sent but empty or malformed is a 400: treating
    it as "no key" would let the client's retry create a second campaign."""
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise ValidationError("Idempotency-Key", "must be 1-128 printable ASCII characters without spaces")
    return value


def policy_of(spec: dict[str, Any]) -> ReminderPolicy:
    return ReminderPolicy.from_dict(spec.get("reminders"))
