"""The campaign and chunk records as the campaigns' repository reads and writes them (without storage keys).

Why a module of their own: send, repair, cancel, results, reminders and the result sync all read these fields;
they import the types only under ``TYPE_CHECKING``, so naming them costs nothing at run time.
"""

from __future__ import annotations

from typing import Any, TypedDict

from wecom_bundle.campaigns.status import CampaignStatus, ChunkState


class CampaignRecord(TypedDict, total=False):
    """The campaign record as this repository reads it, without the storage and index keys: create, send,
    cancel, queries, results, reminders and the result sync all read the same fields (docs/data-model.md,
    "Campaign record"). Most fields appear only as the campaign moves through its statuses."""

    campaign_id: str
    name: str
    origin: str  # admin_api; the result sync adds console / member tasks
    status: CampaignStatus
    chat_type: str
    sender: str
    text: dict[str, str]  # {"content": ...}
    attachments: list[dict[str, Any]]
    tag_filter: dict[str, Any]
    allow_select: bool
    audience_field: str
    audience_size: int
    chunk_count: int
    send_at: int
    created_at: int
    sent_at: int
    cancelled_at: int
    owner: str  # with lease_until, while creating
    lease_until: int
    reminder_policy: dict[str, Any]
    next_remind_at: int
    last_remind_turn_at: int
    reminders_stopped: str
    msgid_count: int
    fail_list_size: int
    skipped_capped: int  # only a skip_capped create
    skipped_parts: int
    errcode: int  # failed
    errmsg: str
    totals: dict[str, dict[str, int]]
    totals_synced_at: int


class CampaignChunk(TypedDict, total=False):
    """A chunk intent (one ``add_msg_template`` call) as this repository reads and writes it, without the
    storage keys: send, repair, cancel, results, reminders and the result sync all read the same fields
    (docs/data-model.md, "Chunk intent"). Most fields appear only as the chunk moves through its states."""

    campaign_id: str
    chunk: int
    state: ChunkState  # pending -> calling -> sent | failed
    audience_count: int
    chat_type: str
    sender: str
    fingerprint: str
    first_attempt_at: int
    attempt_at: int
    msgid: str
    linked_by: str  # call | repair
    fail_count: int
    fail_list_lost: bool
    errcode: int
    errmsg: str
    sent_at: int
    cancelled_at: int
    # the result sync's aggregates of the chunk's msgid (result_sync.totals.chunk_totals)
    totals: dict[str, dict[str, int]]
    members_unsent: int
    first_send_time: int | None
    last_send_time: int | None
    sync_complete: bool
