"""Channels (渠道活码): the channel, its stats, the reconcile report. Answer models (see ``admin_api.models.responses``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from admin_api.models.content import (
    Attachment,
    MessageText,
)
from admin_api.models.responses.common import Answer, Cursor


class ChannelWelcomeContent(Answer):
    """A channel's welcome, stored exactly as a welcome rule's content."""

    attachments: list[Attachment]
    text: MessageText | None = None


class Channel(Answer):
    """A channel (渠道活码): WeCom's 「联系我」 QR code whose state is ``channel_id``. ``config_id`` and
    ``qr_code`` are absent only while the code is being created (``pending``)."""

    channel_id: str
    name: str
    members: list[str]
    skip_verify: bool
    tags: list[str]
    welcome: ChannelWelcomeContent | None = None
    remark: str | None = None
    config_id: str | None = None
    qr_code: str | None = Field(None, description="the QR image's URL (WeCom's)")
    status: Literal["pending", "active", "gone"] = Field(
        description="pending: asked WeCom, answer not stored yet; gone: WeCom no longer has the code"
    )
    created_at_ms: int
    updated_at_ms: int
    stored: Literal[False] | None = Field(
        None, description="present (false) when WeCom holds the change but storing it failed"
    )
    warnings: list[str] | None = Field(None, description="what to do when stored is false")


class ChannelStatsTotals(Answer):
    """Counts of customers who arrived through the channel (keyed counters, each event counted once)."""

    added: int = Field(description="add-contact events with this State")
    welcomed: int = Field(description="welcomes sent or already sent")
    tagged: int = Field(description="customers the channel's tags were put on")
    tag_failed: int = Field(description="customers the tags could not be put on (never silently lost)")
    lost: int = Field(description="customers who deleted the member or were deleted by them")


class ChannelStatsDay(ChannelStatsTotals):
    date: str = Field(description="YYYY-MM-DD in WELCOME_TIMEZONE")


class ChannelStats(Answer):
    days: list[ChannelStatsDay] = Field(description="the last 30 days, oldest first, ending today")
    totals: ChannelStatsTotals


class ChannelWithStats(Channel):
    stats: ChannelStats


class ChannelPage(Answer):
    items: list[Channel]
    cursor: str | None = Cursor


class ChannelsChecked(Answer):
    wecom: int = Field(description="codes WeCom answered for")
    channels: int


class WeComCode(Answer):
    """A code WeCom holds that no channel knows."""

    config_id: str
    state: str
    members: list[str]
    skip_verify: bool
    remark: str
    importable: bool = Field(description="its state is a channel id no channel uses")
    reason: str | None = Field(None, description="why it cannot be imported")
    repaired: bool | None = Field(None, description="repair: imported")


class GoneCode(Answer):
    channel_id: str
    config_id: str
    repaired: bool | None = Field(None, description="repair: marked gone")


class FieldDrift(Answer):
    store: Any
    wecom: Any


class ChannelDiffers(Answer):
    channel_id: str
    config_id: str
    fields: dict[str, FieldDrift] = Field(description="members, skip_verify, remark or state")


class PendingChannel(Answer):
    channel_id: str
    config_id: str | None = Field(description="the code WeCom holds with this state, if any")
    in_flight: bool = Field(description="younger than the grace period of an add still waiting for WeCom")
    repaired: bool | None = Field(None, description="repair: the code was adopted")


class DuplicateCode(Answer):
    channel_id: str
    config_id: str = Field(description="a second code WeCom holds with the channel's state")
    kept: str = Field(description="the code the channel keeps: its own, else the smallest config id")
    repaired: bool | None = Field(None, description="repair: deleted in WeCom (del_contact_way)")
    reason: str | None = Field(None, description="why the delete failed")


class UncheckedCode(Answer):
    config_id: str
    reason: str
    errcode: int | None = None


class ChannelReconcileReport(Answer):
    repair: bool
    checked: ChannelsChecked
    in_sync: bool
    unknown_in_store: list[WeComCode]
    gone_in_wecom: list[GoneCode]
    differs: list[ChannelDiffers]
    pending: list[PendingChannel]
    duplicates: list[DuplicateCode]
    unchecked: list[UncheckedCode]
