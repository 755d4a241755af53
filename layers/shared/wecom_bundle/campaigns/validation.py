"""The ``POST /admin/campaigns`` body, normalised, with the rules that span fields (add_msg_template, WeCom「创建企业群发」).

Why everything is checked before any WeCom call: a mass-send task cannot be edited, only cancelled, and a
request WeCom refuses halfway through a 30 000-customer audience leaves some chunks created and others not.
Each rule is checked once: the shapes and limits (the constants below) by the admin model where the body
enters, the audience rules and ``send_at``'s window here, raising ``ValidationError(field, message)``.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from wecom_bundle.campaigns.reminder_policy import ReminderPolicy, policy_from
from wecom_bundle.content import text_of, validate_attachments
from wecom_bundle.validation import ValidationError, parse_timestamp

CHAT_TYPES = ("single", "group")
MAX_CHAT_IDS = 2_000  # chat_id_list, per call (WeCom「创建企业群发」)
MAX_TAGS_PER_GROUP = 100  # tag_filter.group_list[].tag_list (WeCom「创建企业群发」)
MAX_AUDIENCE = 100_000  # our own cap: 10 calls of 10 000, a ~4 MB body (Lambda takes 6 MB)
MAX_ID_BYTES = 128
MAX_NAME_CHARS = 200
MAX_SCHEDULE_AHEAD_S = 366 * 24 * 3600
# A send_at this far in the past still means "send now" (a clock a little behind, a slow retype); further
# back it is a typo (a wrong year, day or zone), refused rather than sent at once.
SEND_AT_PAST_GRACE_S = 5 * 60
SENDER_MAX_BYTES = 64
MAX_URL_BYTES = 2048  # link.url, link.picurl (WeCom「创建企业群发」)
FIELDS = frozenset(  # the body's fields: the admin model declares exactly these (it asserts so)
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
        "skip_capped",
    }
)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces (UUIDs, ULIDs, ...)


def parse_campaign(body: dict[str, Any], now: float, zone: tzinfo) -> dict[str, Any]:
    """The normalised campaign spec (also the input of the idempotency hash) of a body the admin model
    validated (known keys, types, lengths, URLs): defaults, de-duplicated ids and the rules across fields.
    ``zone`` is the business time zone a ``send_at`` without an offset is read in."""
    text = text_of(body.get("text"))
    attachments = validate_attachments(body.get("attachments"))
    if text is None and not attachments:
        raise ValidationError("text", "text and attachments cannot both be empty")
    chat_type = body.get("chat_type") or "single"
    spec: dict[str, Any] = {
        "chat_type": chat_type,
        "text": text,
        "attachments": attachments,
        "sender": body.get("sender") or None,
        "name": body.get("name") or None,
        "send_at": parse_send_at(body.get("send_at"), now, zone),
        "reminders": policy_from(body.get("reminders")).as_dict(),
    }
    spec.update(_group_audience(body, spec) if chat_type == "group" else _single_audience(body, spec))
    spec["skip_capped"] = _skip_capped(body, spec)
    return spec


def _unique(ids: list[str] | None) -> list[str]:
    """Duplicates dropped, the first occurrence kept: chunks stay stable."""
    return list(dict.fromkeys(ids or []))


def _forbid(doc: dict[str, Any], field: str, message: str) -> None:
    if doc.get(field) is not None:
        raise ValidationError(field, message)


def _single_audience(doc: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Customers: external_userid (split by 10 000 later), and/or sender, or a tag_filter (WeCom「创建企业群发」)."""
    _forbid(doc, "chat_id_list", "is only valid when chat_type is group")
    external = _unique(doc.get("external_userid"))
    tag_filter = tag_filter_of(doc.get("tag_filter"))
    if external and tag_filter is not None:
        raise ValidationError(
            "tag_filter", "has no effect when external_userid is given (WeCom「创建企业群发」)"
        )
    if not external and not spec["sender"] and tag_filter is None:
        raise ValidationError("external_userid", "external_userid, sender and tag_filter cannot all be empty")
    return {
        "external_userid": external,
        "chat_id_list": [],
        "tag_filter": tag_filter,
        "allow_select": doc.get("allow_select"),
    }


def _group_audience(doc: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Customer groups: the sender's chats, or the listed ones (at most 2 000); sender is required."""
    _forbid(doc, "external_userid", "is only valid when chat_type is single")
    _forbid(doc, "tag_filter", "selects customers: only valid when chat_type is single")
    _forbid(doc, "allow_select", "is only supported when sending to customers (chat_type single)")
    if not spec["sender"]:
        raise ValidationError("sender", "is required when chat_type is group")
    chat_ids = _unique(doc.get("chat_id_list"))
    return {"external_userid": [], "chat_id_list": chat_ids, "tag_filter": None, "allow_select": None}


def _skip_capped(doc: dict[str, Any], spec: dict[str, Any]) -> bool:
    """Leaving capped customers out needs the customers named: with a sender's or a tag_filter's audience
    (or group chats) WeCom chooses the recipients, and we cannot remove any of them."""
    if not doc.get("skip_capped"):
        return False
    if not spec["external_userid"]:
        raise ValidationError("skip_capped", "needs an external_userid audience (chat_type single)")
    return True


def tag_filter_of(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"group_list": [{"tag_list": ["tag", ...]}, ...]}`` (OR within a group, AND across groups) with
    each group's duplicate tags dropped; the structure and sizes are the admin model's."""
    if value is None:
        return None
    return {"group_list": [{"tag_list": _unique(group["tag_list"])} for group in value["group_list"]]}


def parse_send_at(value: Any, now: float, zone: tzinfo) -> int | None:
    """Epoch seconds or ISO 8601 (without an offset: read in ``zone``); more than a year ahead is refused. A
    time in the past is judged apart (``refuse_past_send_at``), after an idempotent replay had its chance."""
    if value is None or value == "":
        return None
    moment = parse_timestamp(value, "send_at", zone)
    if moment > now + MAX_SCHEDULE_AHEAD_S:
        raise ValidationError("send_at", "must be within the next 366 days")
    return moment


def refuse_past_send_at(spec: dict[str, Any], now: float) -> None:
    """None or a ``send_at`` at most ``SEND_AT_PAST_GRACE_S`` ago means "send now"; further in the past is a
    typo, refused rather than sent at once. Checked after the Idempotency-Key lookup: a retry of a create that
    was accepted answers what it created, however late it comes."""
    moment = spec.get("send_at")
    if moment is not None and moment < now - SEND_AT_PAST_GRACE_S:
        minutes = SEND_AT_PAST_GRACE_S // 60
        raise ValidationError("send_at", f"is more than {minutes} minutes in the past (omit it to send now)")


def policy_of(spec: dict[str, Any]) -> ReminderPolicy:
    return ReminderPolicy.from_dict(spec.get("reminders"))
