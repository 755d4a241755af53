"""Repair: link a WeCom task whose ``add_msg_template`` answer was lost back to the chunk that created it.

A task is recognised in ``get_groupmsg_list_v2`` by its content fingerprint, its creator and its creation
time inside one of the chunk's call attempts. ``link`` registers a msgid for a chunk (WeCom's own answer
wins over a repair's guess); the result sync offers every unknown task to ``link_orphan_task`` and asks
``own_send_in_flight`` before ingesting a corp task as created outside the product.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from wecom_bundle.campaigns import limits
from wecom_bundle.wecom import groupmsg
from wecom_bundle.wecom.errors import TransportError, WeComError

if TYPE_CHECKING:
    from wecom_bundle.campaigns.deps import CampaignDeps
    from wecom_bundle.campaigns.records import CampaignChunk
    from wecom_bundle.wecom.client import WeComClient

logger = logging.getLogger(__name__)

LINK_SLACK_S = 120  # clock skew between Lambda and WeCom, plus the call's own duration
ORPHAN_LOOKBACK_S = 3 * 24 * 3600  # attempts of one chunk may span several scheduled runs
MIN_ORPHAN_AGE_S = 30  # never link a task to a chunk whose call may still be answering


# ----------------------------------------------------------------------------------------------- repair
def link(
    deps: CampaignDeps, campaign_id: str, chunk: int, msgid: str, fail_count: int | None, linked_by: str
) -> bool:
    """Register the msgid for this chunk, then record it on the chunk. WeCom's own answer (``call``) wins
    over a repair's guess: a chunk wrongly linked by a repair is put back to be repaired again."""
    now = deps.now()
    won, previous = deps.repo.claim_msgid(msgid, campaign_id, chunk, linked_by, now)
    if not won:
        return False
    if previous and (previous["campaign_id"], int(previous["chunk"])) != (campaign_id, chunk):
        deps.repo.unlink_chunk(previous["campaign_id"], int(previous["chunk"]), msgid)
    deps.repo.record_chunk_sent(campaign_id, chunk, msgid, fail_count, linked_by, now)
    return True


def row_time(row: dict[str, Any]) -> int | None:
    """A get_groupmsg_list_v2 row's ``create_time`` (a string in WeCom's answers), None when unusable."""
    try:
        return int(row["create_time"])  # a string in list_v2 answers
    except (KeyError, TypeError, ValueError):
        return None


def _row_matches(row: dict[str, Any], chunk: CampaignChunk) -> bool:
    """Could this list_v2 task be the chunk's lost one? Same content, created by the corp (API tasks carry
    no creator; a creator, if present, must be the chunk's sender), during one of the chunk's attempts."""
    created = row_time(row)
    if created is None or row.get("create_type", 0) not in (0, "0"):
        return False
    creator = row.get("creator")
    if creator and creator != chunk.get("sender"):
        return False
    fingerprint = content_fingerprint(chunk["chat_type"], row.get("text"), row.get("attachments") or [])
    if fingerprint != chunk.get("fingerprint"):
        return False
    first = int(chunk.get("first_attempt_at") or 0)
    last = int(chunk.get("attempt_at") or first)
    return first - LINK_SLACK_S <= created <= last + LINK_SLACK_S


def repair_chunk(deps: CampaignDeps, client: WeComClient, chunk: CampaignChunk) -> bool:
    """Look for the chunk's task among WeCom's corp tasks of its attempt window; link it if found."""
    if not chunk.get("first_attempt_at"):
        return False
    first, last = int(chunk["first_attempt_at"]), int(chunk.get("attempt_at") or chunk["first_attempt_at"])
    query = {
        "chat_type": chunk["chat_type"],
        "start_time": first - LINK_SLACK_S,
        "end_time": last + LINK_SLACK_S,
        "filter_type": 0,
        "limit": 100,
    }
    try:
        for rows, _cursor in groupmsg.get_groupmsg_list_v2(client, query, timeout=limits.CALL_TIMEOUT):
            for row in rows:
                if _link_if_match(deps, row, chunk):
                    logger.info(
                        "campaign %s chunk %s repaired from list_v2", chunk["campaign_id"], chunk["chunk"]
                    )
                    return True
    except (WeComError, TransportError) as exc:
        logger.warning("list_v2 repair of campaign %s failed: %s", chunk["campaign_id"], type(exc).__name__)
    return False


def _link_if_match(deps: CampaignDeps, row: dict[str, Any], chunk: CampaignChunk) -> bool:
    msgid = str(row.get("msgid") or "")
    if not msgid or not _row_matches(row, chunk) or deps.repo.get_msgid_owner(msgid) is not None:
        return False
    return link(deps, chunk["campaign_id"], int(chunk["chunk"]), msgid, None, "repair")


def link_orphan_task(
    deps: CampaignDeps, row: dict[str, Any], chat_type: str, *, now: int | None = None
) -> dict[str, Any] | None:
    """Link one ``get_groupmsg_list_v2`` task that storage does not know to the chunk intent that created it.

    For the result sync: call it for every unknown task before ingesting it as created outside the product.
    Candidates are chunk intents still without a msgid, with the same content fingerprint, whose call window
    contains the task's ``create_time`` and whose last attempt is old enough not to be answering still.
    Answers ``{"campaign_id", "chunk", "msgid"}`` or None (not ours, or already linked).
    """
    now = deps.now() if now is None else now
    msgid, created = str(row.get("msgid") or ""), row_time(row)
    if not msgid or created is None or deps.repo.get_msgid_owner(msgid) is not None:
        return None
    fingerprint = content_fingerprint(chat_type, row.get("text"), row.get("attachments") or [])
    candidates = deps.repo.unlinked_chunks(fingerprint, created - ORPHAN_LOOKBACK_S, created + LINK_SLACK_S)
    for chunk in sorted(candidates, key=lambda c: (int(c.get("first_attempt_at", 0)), c["campaign_id"])):
        if int(chunk.get("attempt_at", 0)) > now - MIN_ORPHAN_AGE_S or not _row_matches(row, chunk):
            continue
        if link(deps, chunk["campaign_id"], int(chunk["chunk"]), msgid, None, "repair"):
            return {"campaign_id": chunk["campaign_id"], "chunk": int(chunk["chunk"]), "msgid": msgid}
    return None


def own_send_in_flight(
    deps: CampaignDeps, row: dict[str, Any], chat_type: str, *, now: int | None = None
) -> bool:
    """Could one of our own chunk sends still be about to register this corp task itself?

    True only while a chunk intent with the task's content has no msgid yet and was last attempted less than
    a send lease ago (its sender may be between WeCom's answer and its DynamoDB write); ingesting the task
    then would show one task as two campaigns. Anything else (a console task, a long-dead sender's task:
    ``link_orphan_task`` takes those) is not in flight, so it is ingested or linked at the first sync.
    """
    now = deps.now() if now is None else now
    created = row_time(row)
    if created is None:
        return False
    fingerprint = content_fingerprint(chat_type, row.get("text"), row.get("attachments") or [])
    candidates = deps.repo.unlinked_chunks(fingerprint, created - ORPHAN_LOOKBACK_S, created + LINK_SLACK_S)
    return any(
        int(c.get("attempt_at", 0)) > now - limits.LEASE_S and _row_matches(row, c) for c in candidates
    )


def content_fingerprint(
    chat_type: str, text: dict[str, Any] | None, attachments: list[dict[str, Any]]
) -> str:
    """What list_v2 lets us recognise a task by: chat type, text and each attachment's stable identity.

    Media ids are left out on purpose: WeCom may echo an image back as a URL rather than the media_id sent.
    """
    identity = {
        "chat_type": chat_type,
        "text": (text or {}).get("content", ""),
        "attachments": [_attachment_identity(a) for a in attachments or []],
    }
    canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _attachment_identity(attachment: dict[str, Any]) -> list[str]:
    kind = str(attachment.get("msgtype", ""))
    body = attachment.get(kind) or {}
    stable = {"link": ("title", "url"), "miniprogram": ("title", "appid", "page")}.get(kind, ())
    return [kind, *(str(body.get(k, "")) for k in stable)]
