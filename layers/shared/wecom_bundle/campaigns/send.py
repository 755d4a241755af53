"""Send a campaign: one ``add_msg_template`` call per chunk, in order, while holding the campaign's lease.

Per chunk: mark the intent ``calling`` (time, sender, content fingerprint), call ``add_msg_template``, then
register the msgid and record it with its fail_list. A crash between the call and the write leaves a
``calling`` chunk; its task is found again in ``get_groupmsg_list_v2`` (``repair``). The campaign holds a
lease while creating; a crashed or timed-out sender's campaign becomes due again when the lease ends and the
scheduled function (``run_due_sends``) resumes it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from wecom_bundle.campaigns import cancel, limits, repair
from wecom_bundle.campaigns.reminder_policy import ReminderPolicy
from wecom_bundle.campaigns.status import CampaignStatus, ChunkState
from wecom_bundle.dynamo import keys
from wecom_bundle.media.cache import MediaUnavailable, refs_in
from wecom_bundle.wecom import groupmsg
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import TransportError, WeComError

if TYPE_CHECKING:
    from wecom_bundle.campaigns.deps import CampaignDeps
    from wecom_bundle.campaigns.records import CampaignChunk, CampaignRecord
    from wecom_bundle.wecom.client import WeComClient

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------- sending
def send_campaign(deps: CampaignDeps, campaign_id: str, owner: str, *, deadline: float | None = None) -> str:
    """Create the remaining chunks' tasks, in order, while we hold the lease; answers the resulting status."""
    campaign = deps.repo.get_campaign(campaign_id)
    if campaign is None or campaign.get("owner") != owner:
        return campaign["status"] if campaign else "missing"
    client = deps.wecom()
    for chunk in deps.repo.campaign_chunks(campaign_id):
        if chunk["state"] in (ChunkState.SENT, ChunkState.FAILED):
            continue
        if deadline is not None and time.monotonic() > deadline:
            deps.repo.release_campaign_lease(campaign_id, owner, deps.now())
            return CampaignStatus.CREATING
        if not deps.repo.renew_campaign_lease(campaign_id, owner, deps.now() + limits.LEASE_S):
            return _after_lost_lease(deps, campaign_id)
        try:
            _send_chunk(deps, client, campaign, chunk)
        except limits.Unavailable:
            deps.repo.release_campaign_lease(campaign_id, owner, deps.now())
            return CampaignStatus.CREATING
    return _finish(deps, campaign, owner)


def _send_chunk(
    deps: CampaignDeps, client: WeComClient, campaign: CampaignRecord, chunk: CampaignChunk
) -> None:
    """One add_msg_template call for one chunk, retried only where WeCom cannot have created anything."""
    campaign_id, n = campaign["campaign_id"], int(chunk["chunk"])
    if chunk["state"] == ChunkState.CALLING and repair.repair_chunk(deps, client, chunk):
        return  # an earlier sender's call did create the task: linked, nothing to call
    now = deps.now()
    first = int(chunk.get("first_attempt_at") or now)
    if not deps.repo.start_chunk_call(campaign_id, n, chunk["fingerprint"], first, now):
        return  # linked meanwhile (by a repair)
    chunk = {**chunk, "state": ChunkState.CALLING, "first_attempt_at": first, "attempt_at": now}
    body = task_body(campaign, deps.repo.campaign_part_ids(campaign_id, "AUD", n))
    used = _resolve_media(deps, client, body, campaign)
    for attempt in range(limits.CALL_ATTEMPTS):
        try:
            answer = groupmsg.add_msg_template(client, body, timeout=limits.CALL_TIMEOUT)
        except TransportError:
            deps.backoff(
                attempt
            )  # the request may have reached WeCom: look for its task before calling again
            if repair.repair_chunk(deps, client, chunk):
                return
            continue
        except WeComError as exc:
            if exc.retryable:  # rate limit or busy: WeCom refused, nothing was created
                deps.backoff(attempt)
                continue
            if (
                exc.errcode == Errcode.INVALID_MEDIA_ID and used
            ):  # refused, nothing created: fresh uploads, once
                for ref, media_id in used.items():
                    deps.media.invalidate(ref, media_id)
                _resolve_media(deps, client, body, campaign)
                used = {}
                continue
            deps.repo.record_chunk_failed(campaign_id, n, exc.errcode, exc.errmsg)
            logger.warning("campaign %s chunk %s refused: errcode %s", campaign_id, n, exc.errcode)
            return
        _record_answer(deps, campaign_id, n, answer)
        return
    raise limits.Unavailable()


def _resolve_media(
    deps: CampaignDeps, client: WeComClient, body: dict[str, Any], campaign: CampaignRecord
) -> dict[Any, str]:
    """Bucket references → WeCom ids in the call's body (the stored campaign keeps the references, so a
    resumed or scheduled send resolves afresh); answers the ids used. No id: retry at the next run."""
    if not refs_in(campaign.get("attachments")):
        return {}
    try:
        resolution = deps.media.resolve_attachments(campaign["attachments"], client)
    except MediaUnavailable as exc:
        logger.warning("campaign %s media unavailable: %s", campaign["campaign_id"], exc.reason)
        raise limits.Unavailable() from exc
    body["attachments"] = resolution.attachments
    return resolution.used


def task_body(campaign: Mapping[str, Any], ids: list[str]) -> dict[str, Any]:
    """The add_msg_template body of one chunk: the campaign's content plus this chunk's recipients."""
    body: dict[str, Any] = {"chat_type": campaign["chat_type"]}
    if ids:
        body[campaign.get("audience_field", "external_userid")] = ids
    for key in ("sender", "tag_filter", "allow_select", "text"):
        if campaign.get(key) is not None:
            body[key] = campaign[key]
    if campaign.get("attachments"):
        body["attachments"] = campaign["attachments"]
    return body


def _record_answer(deps: CampaignDeps, campaign_id: str, chunk: int, answer: dict[str, Any]) -> None:
    msgid = str(answer["msgid"])
    fail_list = [str(i) for i in answer.get("fail_list") or []]
    for p, j in enumerate(range(0, len(fail_list), deps.part_size)):
        deps.repo.put_campaign_part(campaign_id, "FAIL", chunk, p, fail_list[j : j + deps.part_size])
    if not repair.link(deps, campaign_id, chunk, msgid, len(fail_list), "call"):
        logger.error("campaign %s chunk %s: msgid already belongs to another chunk", campaign_id, chunk)


def _finish(deps: CampaignDeps, campaign: CampaignRecord, owner: str) -> str:
    """All chunks settled: ``active`` (some task exists) or ``failed`` (WeCom refused every chunk)."""
    campaign_id, now = campaign["campaign_id"], deps.now()
    chunks = deps.repo.campaign_chunks(campaign_id)
    sent = [c for c in chunks if c.get("msgid")]
    fields: dict[str, Any] = {
        "sent_at": now,
        "msgid_count": len(sent),
        "fail_list_size": sum(int(c.get("fail_count") or 0) for c in chunks),
    }
    if not sent:
        refusal = next((c for c in chunks if c.get("errcode") is not None), cast("CampaignChunk", {}))
        fields |= {"errcode": refusal.get("errcode"), "errmsg": refusal.get("errmsg", "")}
    policy = ReminderPolicy.from_dict(campaign.get("reminder_policy"))
    remind_at = policy.first_turn(now) if sent else None
    status = CampaignStatus.ACTIVE if sent else CampaignStatus.FAILED
    if deps.repo.finish_campaign_send(campaign_id, owner, status, limits.without_none(fields), remind_at):
        return status
    return _after_lost_lease(deps, campaign_id)


def _after_lost_lease(deps: CampaignDeps, campaign_id: str) -> str:
    """Cancelled while we were creating: cancel what we (or anyone) created; else someone took over."""
    campaign = deps.repo.get_campaign(campaign_id)
    status = campaign["status"] if campaign else "missing"
    if status == CampaignStatus.CANCELLED:
        cancel.cancel_sent_chunks(deps, campaign_id)
    return status


def run_due_sends(deps: CampaignDeps, now: int, deadline: float | None = None) -> dict[str, int]:
    """Scheduled function: create due ``scheduled`` campaigns and resume stalled ``creating`` ones, each
    exactly once (a conditional claim; a second concurrent run finds nothing to claim)."""
    created = claimed = 0
    for campaign in deps.repo.due_campaigns(keys.DUE_SEND, now, limits.DUE_BATCH):
        if deadline is not None and time.monotonic() > deadline:
            break
        owner = uuid.uuid4().hex
        if deps.repo.claim_campaign_send(campaign["campaign_id"], owner, now, now + limits.LEASE_S) is None:
            continue
        claimed += 1
        if send_campaign(deps, campaign["campaign_id"], owner, deadline=deadline) in (
            CampaignStatus.ACTIVE,
            CampaignStatus.FAILED,
        ):
            created += 1
    return {"campaigns_claimed": claimed, "campaigns_created": created}
