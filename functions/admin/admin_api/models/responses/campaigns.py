"""Campaigns: create, preview, view, cancel, remind, results. Answer models (see ``admin_api.models.responses``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from admin_api.models.campaigns import Reminders, TagFilter
from admin_api.models.content import (
    CampaignAttachment,
    MessageText,
)
from admin_api.models.responses.common import Answer, CampaignStatus, Cursor, Epoch, ResultStatus
from wecom_bundle.campaigns import cap


class MemberTotals(Answer):
    sent: int
    unsent: int


class CustomerTotals(Answer):
    unsent: int
    sent: int
    not_friend: int
    limit_reached: int


class Totals(Answer):
    members: MemberTotals
    customers: CustomerTotals


class CampaignSummary(Answer):
    """A campaign as listed (``GET /admin/campaigns``)."""

    campaign_id: str
    name: str | None
    status: CampaignStatus
    origin: Literal["admin_api", "admin_console", "member"] | None = Field(
        description="admin_api: created here; admin_console or member: found by the result sync"
    )
    chat_type: Literal["single", "group"] | None
    created_at: Epoch | None
    send_at: Epoch | None
    sent_at: Epoch | None
    cancelled_at: Epoch | None
    audience_size: int
    msgid_count: int
    fail_list_size: int
    totals: Totals
    totals_synced_at: Epoch | None
    errcode: int | None = Field(None, description="WeCom's refusal of a failed campaign")
    errmsg: str | None = None


class CampaignPage(Answer):
    items: list[CampaignSummary]
    cursor: str | None = Cursor


class Chunk(Answer):
    """One add_msg_template call (up to 10 000 recipients)."""

    chunk: int
    state: Literal["pending", "calling", "sent", "failed"]
    msgid: str | None = None
    audience_count: int | None = None
    fail_count: int | None = None
    errcode: int | None = None
    sent_at: Epoch | None = None
    cancelled_at: Epoch | None = None


class ReminderEvent(Answer):
    msgid: str
    at: Epoch
    trigger: Literal["manual", "scheduled"]
    outcome: Literal["sent", "uncertain"] = Field(description="uncertain: WeCom did not answer")


class Member(Answer):
    msgid: str
    userid: str
    status: Literal["sent", "unsent"]
    send_time: Epoch | None = None
    customers: dict[str, int] = Field(description="the member's customers by result status")
    sent_rate: float | None = Field(None, description="absent when the member has no customer")


class SyncState(Answer):
    msgid: str
    sync_state: Literal["active", "done", "refused"] | None = None
    last_synced_at: Epoch | None = None
    next_sync_at: Epoch | None = None
    sync_errcode: int | None = None


class Campaign(CampaignSummary):
    """One campaign (``GET /admin/campaigns/{id}``), without its audience (up to 100 000 ids)."""

    sender: str | None
    text: MessageText | None
    attachments: list[CampaignAttachment]
    tag_filter: TagFilter | None
    allow_select: bool | None
    msgids: list[str]
    chunks: list[Chunk]
    reminder_policy: Reminders | None
    next_remind_at: Epoch | None
    reminders: list[ReminderEvent]
    members: list[Member]
    members_truncated: bool
    sync: list[SyncState]
    skipped_capped: int | None = Field(
        None,
        description="created with skip_capped: how many capped customers were left out "
        "(who: GET /admin/campaigns/{campaign_id}/skipped)",
    )


class ChunkError(Answer):
    chunk: int
    errcode: int | None
    errmsg: str


class CampaignCreated(Answer):
    """A create's answer (the same, replayed, for a repeated Idempotency-Key)."""

    campaign_id: str
    status: CampaignStatus
    msgids: list[str]
    fail_list: list[str] = Field(description="external userids WeCom could not send to")
    send_at: Epoch | None = Field(None, description="a scheduled campaign's send time")
    chunk_errors: list[ChunkError] | None = None
    skipped_capped: int | None = Field(
        None, description="only with skip_capped: how many capped customers were left out of the audience"
    )


class SkippedPage(Answer):
    """Customers a ``skip_capped`` create left out (capped when it was created), in the audience's order;
    up to 5 000 per page, [] for a campaign created without the flag."""

    items: list[str]
    cursor: str | None = Cursor


class PreviewQuota(Answer):
    """WeCom's per-customer cap in the current period, and how it bears on the requested customers."""

    rule: Literal["month", "week", "day"] = Field(description="MASS_SEND_CUSTOMER_LIMIT")
    limit: int = Field(description="messages a customer may receive in the period")
    period: str = Field(description="the current period's id")
    capped: int | None = Field(
        description="how many of the requested customers are capped now; null when WeCom chooses the "
        "customers (sender or tag_filter audience) or the audience is group chats"
    )
    pending: int | None = Field(
        description="how many of them have a message still unsent in a running task; null as capped"
    )
    capped_sample: list[str] | None = Field(
        description=f"up to {cap.SAMPLE_SIZE} of the capped customers' external_userid; null as capped"
    )


class CampaignPreview(Answer):
    """What ``POST /admin/campaigns`` with the same body would do; nothing is sent or stored."""

    audience_size: int | None = Field(
        description="recipients create would send to (with skip_capped: after the capped are left out); "
        "null when WeCom chooses them (sender or tag_filter audience, a sender's group chats)"
    )
    chunks: int = Field(
        description="add_msg_template calls create would make (0: every customer is capped and "
        "skip_capped would refuse)"
    )
    quota: PreviewQuota
    warnings: list[str] = Field(description="what the operator should know before creating; [] when none")


class CancelFailure(Answer):
    msgid: str
    reason: str
    errcode: int | None = None


class CampaignCancelled(Answer):
    campaign_id: str
    status: Literal["cancelled"]
    msgids: list[str]
    cancelled: list[str]
    failed: list[CancelFailure]


class RemindOutcome(Answer):
    msgid: str
    result: Literal["sent", "uncertain", "refused", "failed"]
    next_allowed_at: int | None = Field(
        None, description="refused: epoch ms when WeCom's cap allows the next"
    )
    errcode: int | None = None


class Reminded(Answer):
    campaign_id: str
    reminded: list[str]
    refused: list[RemindOutcome]
    failed: list[RemindOutcome]
    outcomes: list[RemindOutcome]


class ResultRow(Answer):
    msgid: str
    userid: str | None = None
    external_userid: str | None = None
    chat_id: str | None = None
    send_time: Epoch | None = None
    status: ResultStatus


class ResultsPage(Answer):
    items: list[ResultRow]
    cursor: str | None = Cursor
