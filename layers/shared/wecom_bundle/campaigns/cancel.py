"""Cancel a campaign: ``cancelled`` first (stops a sender and the reminders), then every msgid in WeCom."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wecom_bundle.campaigns import limits, queries
from wecom_bundle.campaigns.status import CampaignStatus
from wecom_bundle.domain_errors import InvalidState
from wecom_bundle.validation import NotFound
from wecom_bundle.wecom import groupmsg
from wecom_bundle.wecom.errors import TransportError, WeComError

if TYPE_CHECKING:
    from wecom_bundle.campaigns.deps import CampaignDeps
    from wecom_bundle.wecom.client import WeComClient


# ----------------------------------------------------------------------------------------------- cancel
# A cancel must not rewrite these: a completed campaign was sent by every member (WeCom has nothing left to
# cancel, and "cancelled" would hide that it went out); a failed one has no WeCom task at all.
FINAL_REFUSALS: dict[str, str] = {
    CampaignStatus.COMPLETED: "the campaign is completed: every member has sent it, WeCom has nothing left to cancel",
    CampaignStatus.FAILED: "the campaign failed: WeCom holds no task to cancel",
}


def cancel_campaign(deps: CampaignDeps, campaign_id: str, *, now: int | None = None) -> dict[str, Any]:
    """``cancelled`` first (stops a sender and the reminders), then cancel_groupmsg_send for every msgid.

    Idempotent: a second cancel re-tries only msgids WeCom has not confirmed yet. A scheduled campaign has
    no msgid, so it is cancelled without any WeCom call. Sent counts (totals) are left as they are. A
    ``completed`` or ``failed`` campaign is refused (``InvalidState``), its status and WeCom untouched.
    """
    _refuse_final(deps, campaign_id)
    if deps.repo.mark_campaign_cancelled(campaign_id, deps.now() if now is None else now) is None:
        _refuse_final(deps, campaign_id)  # completed by a sync pass meanwhile, or already cancelled (fine)
    outcome = cancel_sent_chunks(deps, campaign_id)
    return {"campaign_id": campaign_id, "status": CampaignStatus.CANCELLED, **outcome}


def _refuse_final(deps: CampaignDeps, campaign_id: str) -> None:
    """NotFound for an unknown campaign, InvalidState for one in a status a cancel must not rewrite."""
    campaign = deps.repo.get_campaign(queries.known_id(campaign_id))
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    refusal = FINAL_REFUSALS.get(str(campaign["status"]))
    if refusal is not None:
        raise InvalidState(refusal)


def cancel_sent_chunks(deps: CampaignDeps, campaign_id: str) -> dict[str, Any]:
    """cancel_groupmsg_send for every chunk with a msgid not yet cancelled (transient faults retried)."""
    cancelled: list[str] = []
    failed: list[dict[str, Any]] = []
    client: WeComClient | None = None
    for chunk in deps.repo.campaign_chunks(campaign_id):
        msgid = chunk.get("msgid")
        if not msgid:
            continue
        if chunk.get("cancelled_at") is None:
            client = client or deps.wecom()
            error = _cancel_msgid(deps, client, str(msgid))
            if error is not None:
                failed.append({"msgid": msgid, **error})
                continue
            deps.repo.mark_chunk_cancelled(campaign_id, int(chunk["chunk"]), deps.now())
        cancelled.append(str(msgid))
    return {"msgids": cancelled + [f["msgid"] for f in failed], "cancelled": cancelled, "failed": failed}


def _cancel_msgid(deps: CampaignDeps, client: WeComClient, msgid: str) -> dict[str, Any] | None:
    """None when WeCom confirmed (cancel is idempotent, so every fault is safe to retry)."""
    error: dict[str, Any] = {}
    for attempt in range(limits.CALL_ATTEMPTS + 1):
        try:
            groupmsg.cancel_groupmsg_send(client, msgid, timeout=limits.CALL_TIMEOUT)
            return None
        except TransportError as exc:
            error = {"reason": exc.reason}
        except WeComError as exc:
            error = {"errcode": exc.errcode, "reason": exc.errmsg}
            if not exc.retryable:
                return error
        if attempt < limits.CALL_ATTEMPTS:
            deps.backoff(attempt)
    return error
