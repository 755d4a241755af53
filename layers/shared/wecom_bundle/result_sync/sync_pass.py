"""One msgid's result sync pass: member task status and per-customer results from WeCom into DynamoDB.

A pass (run by ResultSyncWorkerFunction for one queued msgid):

1. pages ``get_groupmsg_task`` (limit 1000) to the last cursor and stores each member whose status or
   send_time changed, flagging it for a results pull;
2. pages ``get_groupmsg_send_result`` (limit 1000, every page) only for members that changed, were never
   pulled, sent but still have non-final rows, or were interrupted mid-pull; stores only rows that changed
   (``external_userid`` rows for single tasks, ``chat_id`` rows for group tasks), 25 per batch;
3. recounts the aggregates from the stored state and writes them only when they changed.

Why this shape: an unchanged re-sync costs one task page per 1000 members and writes no row, member or
aggregate item (only the schedule moves). Counts are recounts of what is stored, never increments, so a
pass that is repeated, resumed or raced by a duplicate message cannot double count. The pass checkpoints
its cursors when it runs out of time and continues in a new message; a pass killed without a checkpoint is
simply redone (rows are compared before writing, so that costs WeCom calls, not writes).
Tasks created before 2020-11-17 are not served by ``get_groupmsg_task``: their results are pulled with
``get_groupmsg_send_result`` alone for the members known to have sent it (the campaign's sender or creator).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from wecom_bundle.campaigns.status import CampaignStatus, SyncState
from wecom_bundle.customers import tally
from wecom_bundle.result_sync.budget import Budget, OutOfTime
from wecom_bundle.result_sync.cadence import Cadence
from wecom_bundle.result_sync.queue import SyncMessage
from wecom_bundle.result_sync.totals import MemberCounts, campaign_totals, chunk_totals, member_counts
from wecom_bundle.wecom import groupmsg
from wecom_bundle.wecom.errors import WeComError
from wecom_bundle.wecom.groupmsg import Page

if TYPE_CHECKING:
    from wecom_bundle.campaigns.records import CampaignChunk, CampaignRecord
    from wecom_bundle.result_sync.deps import SyncDeps

logger = logging.getLogger(__name__)

TASK_API_CUTOFF = 1605542400  # 2020-11-17 00:00 +08:00
MEMBER_SENT = 2
LEASE_S = 900  # a pass not finished or renewed within this is queued again by the next scheduled run
CANCEL_SETTLE_S = 60  # a cancelled campaign gets one pass that starts this long after the cancel
PAGE_RESERVE_S = 15.0  # one page at worst (connect + read timeouts) plus the checkpoint writes


@dataclass
class PassState:
    """What one pass has read and changed; ``members`` is updated as member items are written."""

    msgid: str
    token: str
    registry: dict[str, Any]
    campaign: CampaignRecord
    budget: Budget
    now: int
    deps: SyncDeps
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    unsaved: set[str] = field(default_factory=set)  # members changed in memory, not yet written
    members_written: int = 0
    rows_written: int = 0
    counter_updates: int = 0
    members_pulled: int = 0


class _Interrupted(OutOfTime):
    """Out of time with a position to save: where the task list or a member's results stopped."""

    def __init__(self, checkpoint: dict[str, Any], member: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.member = member


def sync_message(deps: SyncDeps, body: str, *, budget_ms: int) -> dict[str, Any]:
    """Run the pass a queue message names (ValueError for a malformed message: it is poison)."""
    message = SyncMessage.decode(body)
    budget = deps.budget(budget_ms / 1000, reserve_s=PAGE_RESERVE_S)
    return sync_msgid(deps, message.msgid, message.token, budget)


def sync_msgid(
    deps: SyncDeps, msgid: str, token: str, budget: Budget, *, now: int | None = None
) -> dict[str, Any]:
    """One pass over one msgid, if the pass named by ``token`` is still the msgid's current one."""
    now = int(time.time()) if now is None else now
    registry = deps.campaign_repo.get_msgid_owner(msgid)
    if registry is None or registry.get("sync_token") != token:
        return {"msgid": msgid, "outcome": "stale"}  # a duplicate or superseded message: nothing to do
    campaign = deps.campaign_repo.get_campaign(str(registry["campaign_id"])) or {}
    state = PassState(msgid, token, registry, campaign, budget, now, deps)
    try:
        _pull(state)
    except _Interrupted as stop:
        return _continue_later(state, stop)
    except OutOfTime:
        return _continue_later(state, _Interrupted({}))
    except WeComError as exc:
        return _refused(state, exc)
    return _finish(state)


def _pull(state: PassState) -> None:
    state.members = {m["userid"]: m for m in state.deps.repo.sync_members(state.msgid)}
    if _is_pre_task_api(state.registry):
        _seed_known_senders(state)
    elif state.registry.get("sync_phase") != "results":
        _pull_tasks(state, str(state.registry.get("task_cursor") or ""))
    for userid in sorted(state.members):
        if _needs_results(state.members[userid]):
            _pull_member_results(state, userid)


# ----------------------------------------------------------------------------------------------- members
def _is_pre_task_api(registry: dict[str, Any]) -> bool:
    return int(registry.get("task_created_at") or registry.get("linked_at") or 0) < TASK_API_CUTOFF


class _PageStop(OutOfTime):
    """Out of time before the page at ``cursor`` was fetched."""

    def __init__(self, cursor: str) -> None:
        super().__init__()
        self.cursor = cursor


def _pages(pages: Iterator[Page], cursor: str) -> Iterator[Page]:
    """(rows, next_cursor) of every page of ``pages`` (a WeCom list from ``cursor``, each call under the
    pass's budget and back-off); running out of time raises _PageStop with the cursor to resume from."""
    while True:
        try:
            rows, next_cursor = next(pages)
        except StopIteration:
            return
        except OutOfTime as exc:
            raise _PageStop(cursor) from exc
        yield rows, next_cursor
        cursor = next_cursor


def _pull_tasks(state: PassState, cursor: str) -> None:
    """Every page of the member task list from ``cursor``; changed members are stored and flagged."""
    try:
        tasks = groupmsg.get_groupmsg_task(
            state.deps.wecom(),
            state.msgid,
            limit=state.deps.page_limit,
            cursor=cursor,
            retry=state.budget.call,
        )
        for rows, next_cursor in _pages(tasks, cursor):
            changed = [_store_member_status(state, row) for row in rows]
            if next_cursor and any(changed):
                _checkpoint_tasks(state, next_cursor)
    except _PageStop as stop:
        raise _Interrupted({"task_cursor": stop.cursor, "sync_phase": "tasks"}) from stop


def _checkpoint_tasks(state: PassState, next_cursor: str) -> None:
    """After a task page that changed members, when more pages follow (tasks of over 1 000 members): store
    those members and the cursor, so a pass that fails from here resumes at the next page."""
    _save_unsaved(state)
    checkpoint = {"task_cursor": next_cursor, "sync_phase": "tasks"}
    state.deps.repo.renew_msgid_sync(state.msgid, state.token, state.now + LEASE_S, checkpoint)


def _store_member_status(state: PassState, row: dict[str, Any]) -> bool:
    """Take one task row; answers whether the member changed."""
    userid = str(row.get("userid") or "")
    if not userid:
        return False
    status, send_time = int(row.get("status") or 0), row.get("send_time")
    stored = state.members.get(userid)
    if stored is not None and stored.get("status") == status and stored.get("send_time") == send_time:
        return False
    member = {**(stored or {}), "userid": userid, "status": status, "results_pending": True}
    state.members[userid] = _with(member, "send_time", send_time)
    state.unsaved.add(userid)  # written once, after its results are pulled (or at a checkpoint)
    return True


def _seed_known_senders(state: PassState) -> None:
    """Pre-2020-11-17 tasks: the members known to have it (its sender or creator) are pulled every pass."""
    for userid in {state.campaign.get("sender"), state.registry.get("creator")} - {None, ""}:
        stored = state.members.get(str(userid)) or {"userid": str(userid), "status": 0}
        state.members[str(userid)] = {**stored, "results_pending": True, "derived_status": True}


def _needs_results(member: dict[str, Any]) -> bool:
    """Pull results only for members that changed, were interrupted, or sent with rows not yet final."""
    if member.get("results_pending") or member.get("result_cursor"):
        return True
    return member.get("status") == MEMBER_SENT and not member.get("results_final")


def _save_member(state: PassState, member: dict[str, Any]) -> None:
    """Write a member that differs from what is stored. Why a status change is not written as soon as it is
    seen: until the member's results are pulled, the stored status stays the old one, so a pass that dies
    before the pull finds the same change again; one write per changed member instead of two."""
    userid = member["userid"]
    if state.members.get(userid) == member and userid not in state.unsaved:
        return
    state.deps.repo.put_sync_member(state.msgid, member)
    state.members[userid] = member
    state.unsaved.discard(userid)
    state.members_written += 1


def _save_unsaved(state: PassState) -> None:
    """Before a checkpoint: the continuation must still know which members changed (it resumes past them)."""
    for userid in sorted(state.unsaved):
        _save_member(state, state.members[userid])


# ----------------------------------------------------------------------------------------------- results
def _target(row: dict[str, Any]) -> str:
    return str(row.get("external_userid") or row.get("chat_id") or "")


def _result_row(state: PassState, userid: str, row: dict[str, Any]) -> dict[str, Any]:
    """The stored shape: ``external_userid`` for single tasks, ``chat_id`` for group tasks, never both.
    A customer's row also carries what its customer's listing and counters need (``_with_customer_fields``)."""
    key = "chat_id" if row.get("chat_id") else "external_userid"
    stored = {
        "msgid": state.msgid,
        "userid": userid,
        key: _target(row),
        "status": int(row.get("status") or 0),
    }
    stored = _with(stored, "send_time", row.get("send_time"))
    return stored if key == "chat_id" else _with_customer_fields(state, userid, stored)


def _with_customer_fields(state: PassState, userid: str, row: dict[str, Any]) -> dict[str, Any]:
    """``campaign_id`` (the customer's listing shows it), ``task_at`` (the task's creation: where an unsent
    row is listed and pending) and ``quota_day`` (the corp's local day a sent or capped row counts in: its
    send_time, else the member's, as WeCom gives capped rows none)."""
    task_at = int(state.registry.get("task_created_at") or state.registry.get("linked_at") or state.now)
    member_time = (state.members.get(userid) or {}).get("send_time")
    day = tally.counted_day(
        row["status"], (row.get("send_time"), member_time, task_at), state.deps.customer_timezone()
    )
    fields = {"campaign_id": str(state.registry.get("campaign_id") or ""), "task_at": task_at}
    return _with({**row, **fields}, "quota_day", day)


def _pull_member_results(state: PassState, userid: str) -> None:
    """Every page of one member's results; writes only new or changed rows, then recounts the member."""
    member = state.members[userid]
    known = {_target(r): r for r in state.deps.repo.member_results(state.msgid, userid)}
    cursor = member.get("result_cursor") or ""
    try:
        results = groupmsg.get_groupmsg_send_result(
            state.deps.wecom(),
            state.msgid,
            userid,
            limit=state.deps.page_limit,
            cursor=cursor,
            retry=state.budget.call,
        )
        for rows, next_cursor in _pages(results, cursor):
            pairs = _changed_rows(state, userid, rows, known)
            changed = [new for _, new in pairs]
            # Counters first: their changes are idempotent sets, so a pass that dies before the rows are
            # written finds the same rows changed again and re-applies the same change (customers.tally).
            state.counter_updates += state.deps.customers.apply_counter_changes(tally.changes(pairs))
            state.deps.repo.write_results(state.msgid, changed)
            state.rows_written += len(changed)
            if (
                next_cursor and changed
            ):  # a member of over 1 000 customers: a failure resumes at the next page
                member = {**member, "result_cursor": next_cursor}
                _save_member(state, member)
    except _PageStop as stop:
        raise _Interrupted({"sync_phase": "results"}, {**member, "result_cursor": stop.cursor}) from stop
    state.members_pulled += 1
    _save_member(state, _recounted(member, member_counts(known.values())))


def _changed_rows(
    state: PassState, userid: str, rows: list[dict[str, Any]], known: dict[str, dict[str, Any]]
) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(stored row or None, new row) of each row that is new or whose status or send_time changed."""
    changed = []
    for row in rows:
        if not _target(row):
            continue
        new = _result_row(state, userid, row)
        old = known.get(new.get("external_userid") or new["chat_id"])
        if old is None or old.get("status") != new["status"] or old.get("send_time") != new.get("send_time"):
            changed.append((old, new))
        known[_target(new)] = new
    return changed


def _recounted(member: dict[str, Any], counts: MemberCounts) -> dict[str, Any]:
    """The member after a complete pull: its counts, whether every row is final, no pending pull."""
    updated = {key: value for key, value in member.items() if key not in ("results_pending", "result_cursor")}
    if updated.pop("derived_status", False):  # pre-2020-11-17: a member "sent" once any row left unsent
        updated["status"] = MEMBER_SENT if counts.total and counts.unsent < counts.total else 0
    updated |= {"results": counts.as_dict(), "results_total": counts.total}
    updated["results_final"] = updated.get("status") == MEMBER_SENT and counts.unsent == 0
    updated = _with(updated, "first_send_time", counts.first_send_time)
    return _with(updated, "last_send_time", counts.last_send_time)


def _with(doc: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """``doc`` with ``key`` set, or removed when the value is None (DynamoDB items carry no nulls)."""
    out = {k: v for k, v in doc.items() if k != key}
    if value is not None:
        out[key] = value
    return out


# ----------------------------------------------------------------------------------------------- ending
def _summary(state: PassState, outcome: str) -> dict[str, Any]:
    return {
        "msgid": state.msgid,
        "outcome": outcome,
        "wecom_calls": state.budget.calls,
        "backoffs": state.budget.backoffs,
        "members_written": state.members_written,
        "rows_written": state.rows_written,
        "customer_counter_updates": state.counter_updates,
        "members_pulled": state.members_pulled,
    }


def _continue_later(state: PassState, stop: _Interrupted) -> dict[str, Any]:
    """Save where the pass stopped, keep the claim, and queue the rest as a new message."""
    if stop.member is not None:
        state.members[stop.member["userid"]] = stop.member
        state.unsaved.add(stop.member["userid"])
    _save_unsaved(state)
    if not state.deps.repo.renew_msgid_sync(state.msgid, state.token, state.now + LEASE_S, stop.checkpoint):
        return _summary(state, "superseded")
    state.deps.send_messages([SyncMessage(state.msgid, state.token)])
    logger.info("msgid %s: out of time, continues from its checkpoint", state.msgid)
    return _summary(state, "continued")


def _refused(state: PassState, exc: WeComError) -> dict[str, Any]:
    """A definite refusal (unknown msgid, no permission): stop syncing this msgid, keep the errcode."""
    logger.warning(
        "msgid %s: WeCom refused the sync (errcode %s); no further syncs", state.msgid, exc.errcode
    )
    fields = {"sync_state": SyncState.REFUSED, "sync_errcode": exc.errcode}
    state.deps.repo.finish_msgid_sync(state.msgid, state.token, None, fields, state.now)
    return {**_summary(state, "refused"), "errcode": exc.errcode}


def _finish(state: PassState) -> dict[str, Any]:
    """Aggregates (written only when changed), the campaign's completion, and the next sync time."""
    _save_unsaved(state)
    members = list(state.members.values())
    own = chunk_totals(members)
    campaign_id, chunk_no = str(state.registry["campaign_id"]), int(state.registry.get("chunk") or 1)
    chunks = state.deps.campaign_repo.campaign_chunks(campaign_id)
    chunk = next((c for c in chunks if int(c["chunk"]) == chunk_no), None)
    if chunk is not None and any(chunk.get(k) != v for k, v in own.items()):
        state.deps.repo.record_chunk_totals(campaign_id, chunk_no, own)
        chunk.update(cast("CampaignChunk", own))
    totals, complete = campaign_totals(chunks)
    became_completed = False
    if state.campaign and (
        totals != state.campaign.get("totals")
        or (complete and state.campaign.get("status") == CampaignStatus.ACTIVE)
    ):
        became_completed = state.deps.repo.record_campaign_totals(campaign_id, totals, state.now, complete)
    next_at = _next_sync_at(state, own["sync_complete"])
    fields = {"sync_state": SyncState.ACTIVE if next_at is not None else SyncState.DONE}
    state.deps.repo.finish_msgid_sync(state.msgid, state.token, next_at, fields, state.now)
    return {**_summary(state, "synced"), "next_sync_at": next_at, "campaign_completed": became_completed}


def _next_sync_at(state: PassState, complete: bool) -> int | None:
    if complete:
        return None  # every member sent and every row is final: nothing can change any more
    cancelled_at = state.campaign.get("cancelled_at")
    if state.campaign.get("status") == CampaignStatus.CANCELLED and cancelled_at is not None:
        settle_at = int(cancelled_at) + CANCEL_SETTLE_S
        if state.now >= settle_at:
            return None  # this pass started after the cancel settled: the final picture is stored
        return settle_at
    created = int(state.registry.get("task_created_at") or state.registry.get("linked_at") or state.now)
    return Cadence.from_env().next_sync_at(created, state.now)
