"""What operators read of campaigns: one campaign with its chunks, reminders, members and sync state, and
the newest-first listing. Reads only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wecom_bundle import cursors
from wecom_bundle.campaigns import cap, results
from wecom_bundle.campaigns.deps import CampaignDeps
from wecom_bundle.campaigns.status import CampaignStatus
from wecom_bundle.result_sync.totals import zero_totals
from wecom_bundle.validation import NotFound, ValidationError, page_size

STATUSES = tuple(CampaignStatus)
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def known_id(campaign_id: str) -> str:
    """Anything that is not one of our ids is simply unknown (404), never a malformed DynamoDB key."""
    if not CAMPAIGN_ID.match(campaign_id or ""):
        raise NotFound(f"campaign {campaign_id[:64]} does not exist")
    return campaign_id


# ----------------------------------------------------------------------------------------------- read
def get_campaign(deps: CampaignDeps, campaign_id: str) -> dict[str, Any]:
    """Everything an operator sees about one campaign (not the audience: that can be 100 000 ids)."""
    campaign, chunks, events = deps.repo.campaign_view(known_id(campaign_id))
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    doc = _summary(campaign)
    doc |= {
        "sender": campaign.get("sender"),
        "text": campaign.get("text"),
        "attachments": campaign.get("attachments", []),
        "tag_filter": campaign.get("tag_filter"),
        "allow_select": campaign.get("allow_select"),
        "msgids": [c["msgid"] for c in chunks if c.get("msgid")],
        "fail_list_size": sum(int(c.get("fail_count") or 0) for c in chunks),
        "chunks": [_chunk_view(c) for c in chunks],
        "reminder_policy": campaign.get("reminder_policy"),
        "next_remind_at": campaign.get("next_remind_at"),
        "reminders": [
            {"msgid": e["msgid"], "at": e["at"], "trigger": e["trigger"], "outcome": e.get("outcome", "sent")}
            for e in events
            if e.get("kind") == "reminder"
        ],
    }
    if campaign.get("skipped_capped") is not None:  # created with skip_capped (the ids: SKIP parts)
        doc["skipped_capped"] = campaign["skipped_capped"]
    members, truncated = results.member_stats(deps, chunks)
    doc |= {"members": members, "members_truncated": truncated}
    doc["sync"] = results.sync_states(deps, doc["msgids"]) if doc["msgids"] else []
    return doc


def _summary(campaign: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("campaign_id", "name", "status", "origin", "chat_type", "created_at", "send_at", "sent_at")
    doc = {key: campaign.get(key) for key in keys}
    doc |= {
        "cancelled_at": campaign.get("cancelled_at"),
        "audience_size": campaign.get("audience_size", 0),
        "msgid_count": campaign.get("msgid_count", 0),
        "fail_list_size": campaign.get("fail_list_size", 0),
        "totals": campaign.get("totals") or zero_totals(),
        "totals_synced_at": campaign.get("totals_synced_at"),
    }
    if campaign.get("errcode") is not None:
        doc |= {"errcode": campaign["errcode"], "errmsg": campaign.get("errmsg", "")}
    return doc


def _chunk_view(chunk: Mapping[str, Any]) -> dict[str, Any]:
    """The chunk fields an operator sees (a projection by name, so any mapping of the chunk will do)."""
    keys = ("chunk", "state", "msgid", "audience_count", "fail_count", "errcode", "sent_at", "cancelled_at")
    return {key: chunk[key] for key in keys if chunk.get(key) is not None}


def list_campaigns(deps: CampaignDeps, params: dict[str, str]) -> dict[str, Any]:
    """Campaigns newest first, optionally of one status, a page at a time (``cursor``)."""
    status = params.get("status") or None  # one of STATUSES: the admin route's query model checked it
    limit = page_size(params.get("limit"))
    scope = f"campaigns|{status or ''}"  # each status is its own index partition
    cursor = cursors.unseal(scope, params["cursor"]) if params.get("cursor") else None
    if not isinstance(cursor, str | None):
        raise ValidationError("cursor", "is not a cursor this API gave out for this listing")
    page = deps.repo.list_campaigns(status, limit=limit, cursor=cursor)
    return {
        "items": [_summary(c) for c in page.items],
        "cursor": page.cursor and cursors.seal(scope, page.cursor),
    }


def skipped_page(deps: CampaignDeps, campaign_id: str, params: dict[str, str]) -> dict[str, Any]:
    """The customers a ``skip_capped`` create left out, one stored part (up to 5 000 ids) per page, in the
    audience's order; [] for a campaign created without the flag."""
    campaign = deps.repo.get_campaign(known_id(campaign_id))
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    parts = int(campaign.get("skipped_parts") or 0)
    scope = f"skipped|{campaign_id}"
    part = cursors.unseal(scope, params["cursor"]) if params.get("cursor") else 0
    if type(part) is not int or not 0 <= part < max(parts, 1):
        raise ValidationError("cursor", "is not a cursor this API gave out for this listing")
    kind, chunk = cap.SKIPPED_PART
    ids = deps.repo.campaign_part(campaign_id, kind, chunk, part) if parts else []
    return {"items": ids, "cursor": cursors.seal(scope, part + 1) if part + 1 < parts else None}
