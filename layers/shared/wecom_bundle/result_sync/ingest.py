"""Every mass-send task WeCom knows, not only ours: ingestion from ``get_groupmsg_list_v2``.

Tasks created in the admin console or by members never pass through the product, yet operators want their
results too. Each scheduled run lists a rolling window (``SYNC_INGEST_WINDOW_HOURS``, default 48 h; both
chat types, ``filter_type`` 2 = corp and member tasks) and, for every msgid storage does not know:

1. offers it to ``campaigns.repair.link_orphan_task`` first: it may be one of our own chunks whose msgid write was
   lost when a sender crashed between WeCom's answer and DynamoDB;
2. otherwise stores it as a campaign of one chunk with ``origin`` ``admin_console`` (create_type 0) or
   ``member`` (create_type 1), due for its first result sync.

A corp task is left for the next run only while one of our own chunk sends with its content is in flight
(``campaigns.repair.own_send_in_flight``: an intent without its msgid, attempted less than a lease ago): that sender
may still be about to register it, and ingesting it first would show one task as two campaigns. Any other
task, e.g. one an operator just created in the admin console, is ingested at the first run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wecom_bundle import config
from wecom_bundle.campaigns import limits, repair
from wecom_bundle.campaigns.status import CampaignStatus, ChunkState
from wecom_bundle.dynamo import keys
from wecom_bundle.result_sync.totals import zero_totals
from wecom_bundle.wecom import groupmsg

if TYPE_CHECKING:
    from wecom_bundle.result_sync.budget import Budget
    from wecom_bundle.result_sync.deps import SyncDeps

logger = logging.getLogger(__name__)

LIST_LIMIT = 100
MAX_WINDOW_S = 30 * 24 * 3600  # list_v2 spans at most one month
# After this long no send of ours can still claim a task it created (a lease plus the clock slack).
SETTLE_S = limits.LEASE_S + repair.LINK_SLACK_S
CHAT_TYPES = ("single", "group")
ORIGINS = {0: "admin_console", 1: "member"}


@dataclass
class IngestCounts:
    listed: int = 0
    linked: int = 0
    ingested: int = 0
    deferred: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "tasks_listed": self.listed,
            "tasks_linked": self.linked,
            "tasks_ingested": self.ingested,
            "tasks_deferred": self.deferred,
        }


def window_s() -> int:
    return min(MAX_WINDOW_S, config.env_int("SYNC_INGEST_WINDOW_HOURS", 48) * 3600)


def ingest_recent(deps: SyncDeps, now: int, budget: Budget) -> IngestCounts:
    """List the window's tasks of both chat types and store every one storage does not know yet."""
    counts = IngestCounts()
    client = deps.wecom()
    for chat_type in CHAT_TYPES:
        query = {
            "chat_type": chat_type,
            "start_time": now - window_s(),
            "end_time": now,
            "filter_type": 2,
            "limit": LIST_LIMIT,
        }
        pages = groupmsg.get_groupmsg_list_v2(client, query, retry=budget.call)
        for rows, _cursor in pages:
            _ingest_page(deps, rows, chat_type, now, counts)
    return counts


def _ingest_page(
    deps: SyncDeps, rows: list[dict[str, Any]], chat_type: str, now: int, counts: IngestCounts
) -> None:
    counts.listed += len(rows)
    known = deps.repo.msgid_items([str(r.get("msgid")) for r in rows if r.get("msgid")])
    for row in rows:
        msgid = str(row.get("msgid") or "")
        if not msgid or msgid in known:
            continue
        if _create_type(row) == 0 and repair.own_send_in_flight(deps.campaigns, row, chat_type, now=now):
            counts.deferred += 1
            continue
        if repair.link_orphan_task(deps.campaigns, row, chat_type, now=now) is not None:
            counts.linked += 1
        elif _store_external(deps, row, chat_type, now):
            counts.ingested += 1


def _create_type(row: dict[str, Any]) -> int:
    try:
        return int(row.get("create_type") or 0)
    except (TypeError, ValueError):
        return 0


def _created(row: dict[str, Any]) -> int:
    return repair.row_time(row) or 0


def external_campaign_id(msgid: str) -> str:
    """Stable per msgid (a re-listed task maps to the same campaign) and always a valid campaign id."""
    return "ext-" + hashlib.sha256(msgid.encode()).hexdigest()[:24]


def _store_external(deps: SyncDeps, row: dict[str, Any], chat_type: str, now: int) -> bool:
    msgid, created = str(row["msgid"]), _created(row)
    campaign_id = external_campaign_id(msgid)
    creator = row.get("creator") or None
    campaign = {
        "campaign_id": campaign_id,
        "origin": ORIGINS.get(_create_type(row), "admin_console"),
        "chat_type": chat_type,
        "text": row.get("text"),
        "attachments": row.get("attachments") or [],
        "created_at": created,
        "sent_at": created,
        "chunk_count": 1,
        "msgid_count": 1,
        "audience_size": 0,
        "fail_list_size": 0,
        "totals": zero_totals(),
        **keys.campaign_status_keys(CampaignStatus.ACTIVE),
        **keys.campaign_list_keys(created, campaign_id),
    }
    chunk = {
        "campaign_id": campaign_id,
        "chunk": 1,
        "state": ChunkState.SENT,
        "msgid": msgid,
        "chat_type": chat_type,
    }
    chunk |= {"linked_by": "list_v2", "sent_at": created}
    registry = {"msgid": msgid, "campaign_id": campaign_id, "chunk": 1, "linked_by": "list_v2"}
    registry |= {"linked_at": now, "task_created_at": created, **keys.sync_due_keys(now, msgid)}
    if creator:
        campaign["sender"] = chunk["sender"] = registry["creator"] = creator
    campaign = {k: v for k, v in campaign.items() if v is not None}
    stored = deps.repo.ingest_external_task(campaign, chunk, registry)
    if stored:
        logger.info("task %s created outside the product ingested as campaign %s", msgid, campaign_id)
    return stored
