"""Reminders for mass-send campaigns, manual (``POST …/remind``) and scheduled (``ReminderFunction``).

The cap — never more than 3 reminders per msgid in any rolling 24 h (WeCom「提醒成员群发」) — is enforced
by a DynamoDB ledger: three slot items per msgid, each claimed with a conditional write only when empty or
when its reminder is older than 24 h. A claim is taken *before* calling WeCom, so concurrent scheduled runs
and manual reminders together can never exceed it: every reminder in a 24 h window holds its own slot.

What happens to a claimed slot when the call does not succeed:
- WeCom answers 45009 (its own frequency limit: someone reminded outside this product, e.g. the admin
  console): the slot stays taken, the reminder counts as refused. Holding it backs off for 24 h instead of
  hammering WeCom.
- No usable answer (timeout, 5xx): the reminder may have happened, so the slot stays taken and the reminder
  is recorded as ``uncertain``. Counting it keeps the cap true in the worst case.
- Any other WeCom refusal (unknown msgid, 45033 after retries, ...): nothing was sent; the slot is released.

Scheduled reminders follow each campaign's policy (``reminder_policy``): the first turn ``first_after_minutes``
after the tasks were created, then every ``every_minutes``, none after ``stop_after_hours``, and only while
the campaign is ``active`` and the latest synced member status shows unsent members. Until the result sync
has written a status (``totals_synced_at`` on the campaign, ``members_unsent`` on a chunk) it is unknown,
and unknown is treated as "may have unsent members".
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from wecom_bundle import config
from wecom_bundle.campaigns import limits, queries, send
from wecom_bundle.campaigns.reminder_policy import (
    CAP_PER_WINDOW,
    ReminderPolicy,
    next_allowed_at,
    slot_is_free,
)
from wecom_bundle.campaigns.status import CampaignStatus
from wecom_bundle.domain_errors import InvalidState, NothingToDo, TooSoon, WeComRefused
from wecom_bundle.dynamo import keys
from wecom_bundle.validation import NotFound, ValidationError
from wecom_bundle.wecom import groupmsg
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import TransportError, WeComError

if TYPE_CHECKING:
    from wecom_bundle.campaigns.deps import CampaignDeps
    from wecom_bundle.campaigns.records import CampaignChunk, CampaignRecord
    from wecom_bundle.wecom.client import WeComClient

logger = logging.getLogger(__name__)

CALL_ATTEMPTS = 3


class ReminderResult(StrEnum):
    """What one msgid's reminder came to: WeCom took it (``sent``), the answer was lost (``uncertain``: it
    may have gone out, so it counts against the cap), the cap or a final campaign refused it (``refused``), or
    WeCom refused it (``failed``)."""

    SENT = "sent"
    UNCERTAIN = "uncertain"
    REFUSED = "refused"
    FAILED = "failed"


DELIVERED_OR_MAYBE = (ReminderResult.SENT, ReminderResult.UNCERTAIN)


@dataclass(frozen=True)
class Outcome:
    msgid: str
    result: ReminderResult
    next_allowed_at: int | None = None
    errcode: int | None = None

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"msgid": self.msgid, "result": self.result}
        if self.next_allowed_at is not None:
            doc["next_allowed_at"] = self.next_allowed_at
        if self.errcode is not None:
            doc["errcode"] = self.errcode
        return doc


def _now_ms() -> int:
    return int(time.time() * 1000)


# ----------------------------------------------------------------------------------------------- one msgid
def remind_msgid(
    deps: CampaignDeps,
    campaign_id: str,
    msgid: str,
    trigger: str,
    *,
    now_ms: int | None = None,
    client: WeComClient | None = None,
) -> Outcome:
    """Claim a ledger slot, then call remind_groupmsg_send; record what happened."""
    now_ms = _now_ms() if now_ms is None else now_ms
    claim = _claim_slot(deps, campaign_id, msgid, trigger, now_ms)
    if claim is None:
        return Outcome(msgid, ReminderResult.REFUSED, next_allowed_at=_next_allowed(deps, msgid, now_ms))
    slot, owner, previous_at_ms = claim
    try:
        _call_remind(deps, client or deps.wecom(), msgid)
    except TransportError:
        deps.reminders.put_reminder_event(campaign_id, msgid, now_ms, trigger, ReminderResult.UNCERTAIN)
        return Outcome(msgid, ReminderResult.UNCERTAIN)
    except WeComError as exc:
        if exc.errcode == Errcode.RATE_LIMITED:
            return Outcome(
                msgid,
                ReminderResult.REFUSED,
                next_allowed_at=_next_allowed(deps, msgid, now_ms),
                errcode=exc.errcode,
            )
        deps.reminders.release_reminder_slot(msgid, slot, owner, previous_at_ms)
        return Outcome(msgid, ReminderResult.FAILED, errcode=exc.errcode)
    deps.reminders.put_reminder_event(campaign_id, msgid, now_ms, trigger, ReminderResult.SENT)
    deps.sync_repo.mark_msgid_sync_due(msgid, now_ms // 1000)  # members act on reminders: sync next run
    return Outcome(msgid, ReminderResult.SENT)


def _oldest_first(at_ms: int | None) -> int:
    """Sort key of a reminder slot: a never used slot (None) before any used one, then the oldest use."""
    return -1 if at_ms is None else int(at_ms)


def _claim_slot(
    deps: CampaignDeps, campaign_id: str, msgid: str, trigger: str, now_ms: int
) -> tuple[int, str, int | None] | None:
    """The oldest free slot, claimed conditionally; None when all three hold a reminder of the last 24 h."""
    slots = deps.reminders.reminder_slots(msgid)
    times: dict[int, int | None] = {i: slots.get(i, {}).get("at_ms") for i in range(CAP_PER_WINDOW)}
    for slot in sorted(times, key=lambda i: _oldest_first(times[i])):
        if not slot_is_free(times[slot], now_ms):
            continue
        owner = uuid.uuid4().hex
        fields = {"campaign_id": campaign_id, "trigger": trigger}
        previous = deps.reminders.claim_reminder_slot(msgid, slot, now_ms, owner, fields)
        if previous is not None:
            return slot, owner, previous.get("at_ms")
    return None


def _next_allowed(deps: CampaignDeps, msgid: str, now_ms: int) -> int:
    slots = deps.reminders.reminder_slots(msgid)
    return next_allowed_at([slots.get(i, {}).get("at_ms") for i in range(CAP_PER_WINDOW)], now_ms)


def _call_remind(deps: CampaignDeps, client: WeComClient, msgid: str) -> None:
    """Retry only what WeCom certainly refused without reminding (45033 too many concurrent calls, -1 busy).
    A transport fault is not retried: the reminder may have happened and the slot covers only one."""
    for attempt in range(CALL_ATTEMPTS):
        try:
            groupmsg.remind_groupmsg_send(client, msgid, timeout=limits.CALL_TIMEOUT)
            return
        except WeComError as exc:
            if not exc.retryable or exc.errcode == Errcode.RATE_LIMITED or attempt == CALL_ATTEMPTS - 1:
                raise
            deps.backoff(attempt)


def _eligible_msgids(chunks: list[CampaignChunk]) -> list[str]:
    """Msgids not cancelled whose latest synced member status shows unsent members (or is still unknown)."""
    return [
        str(c["msgid"])
        for c in chunks
        if c.get("msgid") and c.get("cancelled_at") is None and c.get("members_unsent") != 0
    ]


def _nothing_unsent(campaign: CampaignRecord) -> bool:
    """True only when the result sync has synced and found no unsent member (unknown is not nothing)."""
    if campaign.get("totals_synced_at") is None:
        return False
    return int((campaign.get("totals") or {}).get("members", {}).get("unsent", 1)) == 0


# ----------------------------------------------------------------------------------------------- manual
def remind_campaign(
    deps: CampaignDeps, campaign_id: str, body: Any, *, now_ms: int | None = None
) -> dict[str, Any]:
    """``POST /admin/campaigns/{id}/remind``: remind every eligible msgid now (or those in ``msgids``).

    Refused by the cap for every msgid → ``TooSoon`` with ``next_allowed_at`` (epoch seconds).
    """
    campaign, chunks, _ = deps.repo.campaign_view(queries.known_id(campaign_id))
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    if campaign["status"] != CampaignStatus.ACTIVE:
        raise InvalidState(f"the campaign is {campaign['status']}: only active campaigns are reminded")
    if _nothing_unsent(campaign):
        raise NothingToDo("every member has sent")
    msgids = _chosen(_eligible_msgids(chunks), body)
    if not msgids:
        raise NothingToDo("no msgid with unsent members left")
    outcomes = [remind_msgid(deps, campaign_id, m, "manual", now_ms=now_ms) for m in msgids]
    _raise_if_nothing_sent(outcomes)
    return {
        "campaign_id": campaign_id,
        "reminded": [o.msgid for o in outcomes if o.result in DELIVERED_OR_MAYBE],
        "refused": [o.as_dict() for o in outcomes if o.result == ReminderResult.REFUSED],
        "failed": [o.as_dict() for o in outcomes if o.result == ReminderResult.FAILED],
        "outcomes": [o.as_dict() for o in outcomes],
    }


def _chosen(eligible: list[str], body: dict[str, Any] | None) -> list[str]:
    """The msgids the body names (its shape is the admin model's), each an active msgid of this campaign;
    all eligible ones when it names none."""
    wanted = (body or {}).get("msgids")
    if wanted is None:
        return eligible
    unknown = [m for m in wanted if m not in eligible]
    if unknown:
        raise ValidationError("msgids", f"not an active msgid of this campaign: {unknown[0]}")
    return list(dict.fromkeys(wanted))


def _raise_if_nothing_sent(outcomes: list[Outcome]) -> None:
    if any(o.result in DELIVERED_OR_MAYBE for o in outcomes):
        return
    refused = [o for o in outcomes if o.result == ReminderResult.REFUSED]
    if refused:
        raise TooSoon(
            "at most 3 reminders per msgid in 24 hours",
            next_allowed_at=min(int(o.next_allowed_at or 0) for o in refused),
        )
    first = outcomes[0]
    raise WeComRefused("WeCom refused the reminder", errcode=first.errcode)


# ----------------------------------------------------------------------------------------------- scheduled
def run_due(deps: CampaignDeps, now: int | None = None, budget_s: float | None = None) -> dict[str, Any]:
    """ReminderFunction: create due scheduled campaigns (exactly once), then take every due reminder turn.

    Both lists come from the gsi3 due index (no Scan). ``budget_s`` (default ``REMINDER_RUN_BUDGET_SECONDS``,
    240 s of the function's 300 s) stops the run in time; what is left is due again at the next tick.
    """
    now = int(time.time()) if now is None else now
    budget = config.env_float("REMINDER_RUN_BUDGET_SECONDS", 240.0) if budget_s is None else budget_s
    deadline = time.monotonic() + budget
    summary: dict[str, Any] = send.run_due_sends(deps, now, deadline)
    checked, outcomes = 0, []
    for campaign in deps.repo.due_campaigns(keys.DUE_REMIND, now, limits.DUE_BATCH):
        if time.monotonic() > deadline:
            break
        checked += 1
        outcomes += _take_turn(deps, campaign, now)
    summary |= {
        "campaigns_checked": checked,
        "reminders_sent": sum(o.result == ReminderResult.SENT for o in outcomes),
        "reminders_refused": sum(o.result == ReminderResult.REFUSED for o in outcomes),
        "reminders_failed": sum(
            o.result in (ReminderResult.FAILED, ReminderResult.UNCERTAIN) for o in outcomes
        ),
    }
    return summary


def _stop_reason(campaign: CampaignRecord, policy: ReminderPolicy, now: int) -> str | None:
    if campaign.get("status") != CampaignStatus.ACTIVE:
        return f"campaign {campaign.get('status')}"
    if not policy.enabled:
        return "disabled"
    if now > policy.stop_at(int(campaign.get("sent_at") or campaign["created_at"])):
        return "stop_after reached"
    if _nothing_unsent(campaign):
        return "no unsent members"
    return None


def _take_turn(deps: CampaignDeps, campaign: CampaignRecord, now: int) -> list[Outcome]:
    """One reminder turn of one campaign, taken by exactly one run (conditional move of its due key)."""
    campaign_id = campaign["campaign_id"]
    policy = ReminderPolicy.from_dict(campaign.get("reminder_policy"))
    reason = _stop_reason(campaign, policy, now)
    if reason is not None:
        deps.reminders.stop_campaign_reminders(campaign_id, reason)
        return []
    sent_at = int(campaign.get("sent_at") or campaign["created_at"])
    if not deps.reminders.claim_reminder_turn(
        campaign_id, int(campaign["next_remind_at"]), policy.next_turn(sent_at, now)
    ):
        return []
    chunks = deps.repo.campaign_chunks(campaign_id)
    outcomes = [
        remind_msgid(deps, campaign_id, m, "scheduled", now_ms=now * 1000) for m in _eligible_msgids(chunks)
    ]
    for outcome in outcomes:
        if outcome.result != ReminderResult.SENT:
            logger.info("scheduled reminder of %s: %s", outcome.msgid, outcome.result)
    return outcomes
