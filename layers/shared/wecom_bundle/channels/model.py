"""The channel item as every part of the product reads it (the shared contract), and its limits.

One item per channel: ``pk = CHANNEL``, ``sk = CHANNEL#{channel_id}`` (``dynamo.keys.channel_key``) with
``channel_id``, ``name``, ``members``, ``skip_verify``, ``tags``, ``welcome`` (``{"text": {"content"},
"attachments": [...]}`` exactly as welcome rules store content; absent when the channel has none), ``remark``
(absent when none), ``config_id`` (absent until WeCom answered), ``qr_code``, ``status``, ``created_at_ms``,
``updated_at_ms``. The callback reads it with GetItem and uses ``welcome``/``tags`` while the status is
``pending`` or ``active``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, TypedDict


class ChannelStatus(StrEnum):
    """A channel item's ``status``."""

    PENDING = "pending"  # the intent, written before add_contact_way; no config_id yet
    ACTIVE = "active"  # WeCom holds the code and we hold its config_id
    GONE = "gone"  # reconcile found that WeCom no longer has the code


PENDING, ACTIVE, GONE = ChannelStatus.PENDING, ChannelStatus.ACTIVE, ChannelStatus.GONE
STATUSES = tuple(ChannelStatus)

CHANNEL_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,30}$")  # the State: WeCom caps it at 30 characters
NAME_MAX_CHARS = 64  # our own field (WeCom never sees it): long enough for "2026 Shanghai expo, hall B"
REMARK_MAX_CHARS = 30  # WeCom's remark: at most 30 characters
MAX_MEMBERS = 100  # WeCom: a contact way serves at most 100 members (41041 beyond)
USERID_MAX_CHARS = 64  # a WeCom member's userid is 1-64 characters
MAX_TAGS = 100  # tags put on each customer with mark_tag (our cap: one mark_tag call carries them all)
TAG_ID_MAX_CHARS = 64  # WeCom's tag ids look like "et..." (32 characters); room to spare
TAG_ID_PATTERN = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no blanks


class ChannelItem(TypedDict, total=False):
    """A channel item as the repository reads and writes it (without the storage keys), so the service,
    reconcile and lookup name the same fields; the fields that are absent until WeCom answers, or when the
    channel has none, are not required."""

    channel_id: str
    name: str
    members: list[str]
    skip_verify: bool
    tags: list[str]
    welcome: dict[str, Any]
    remark: str
    config_id: str
    qr_code: str
    status: str
    created_at_ms: int
    updated_at_ms: int


def public_view(item: ChannelItem) -> dict[str, Any]:
    """A channel as the admin API answers it (the item without its storage keys, ``tags`` always a list)."""
    return {**item, "tags": list(item.get("tags") or []), "members": list(item.get("members") or [])}
