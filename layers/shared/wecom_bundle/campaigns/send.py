"""Mass-send campaigns: create (chunked, idempotent, crash-repairable), schedule, cancel, list and show.

Order of work for a create (never a WeCom call inside a transaction):
1. validate everything (400 naming the field), so a bad body causes no WeCom call;
2. write the audience parts, then one DynamoDB transaction: campaign record + chunk intents + idempotency key;
3. per chunk of at most 10 000 recipients: mark the intent ``calling`` (time, sender, content fingerprint),
   call ``add_msg_template``, then register the msgid and record it with its fail_list.
A crash between the call and the write in 3 leaves a ``calling`` chunk; its task is found again in
``get_groupmsg_list_v2`` by creation time, creator and content and linked back (``link_orphan_task``, and the
resuming sender's own repair). The campaign holds a lease while creating; a crashed or timed-out sender's
campaign becomes due again when the lease ends and the scheduled function resumes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wecom_bundle import campaign_results, campaign_validation, config, cursors, media, runtime, storage
from wecom_bundle.domain_errors import IdempotencyConflict, InvalidState, WeComRefused
from wecom_bundle.reminder_policy import ReminderPolicy
from wecom_bundle.sync_totals import zero_totals
from wecom_bundle.validation import NotFound, ValidationError, parse_limit
from wecom_bundle.wecom import groupmsg
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import TransportError, WeComError

if TYPE_CHECKING:
    from wecom_bundle.wecom.client import WeComClient

logger = logging.getLogger(__name__)

CHUNK_SIZE = 10_000  # external_userid per add_msg_template call (page 004)
PART_SIZE = 5_000  # ids per DynamoDB item: 5 000 x <= 64 bytes stays far below the 400 KB item limit
# Longer than the slowest chunk (3 x (13 s call + backoff + 13 s list_v2 look) ~ 90 s): a live owner never
# loses its lease mid-call. It only delays the resumption of a crashed sender (the scheduler ticks every 30 min).
LEASE_S = 300
CALL_TIMEOUT = (3.05, 10.0)
CALL_ATTEMPTS = 3
BACKOFF_S = (0.5, 1.5, 3.0)
LINK_SLACK_S = 120  # clock skew between Lambda and WeCom, plus the call's own duration
ORPHAN_LOOKBACK_S = 3 * 24 * 3600  # attempts of one chunk may span several scheduled runs
MIN_ORPHAN_AGE_S = 30  # never link a task to a chunk whose call may still be answering
DUE_BATCH = 25
ORIGIN = "admin_api"
STATUSES = ("scheduled", "creating", "active", "completed", "cancelled", "failed")

_sleep = time.sleep  # tests replace it to keep retries fast


CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def known_id(campaign_id: str) -> str:
    """Anything that is not one of our ids is simply unknown (404), never a malformed DynamoDB key."""
    if not CAMPAIGN_ID.match(campaign_id or ""):
        raise NotFound(f"campaign {campaign_id[:64]} does not exist")
    return campaign_id


class _Unavailable(Exception):
    """WeCom kept failing transiently: stop now, the scheduled function resumes after the lease."""


@dataclass(frozen=True)
class CreateResult:
    """A create's answer: the campaign as it stands (``body``), whether the scheduled function still has
    tasks to create for it (``creating``), and whether it is a stored answer replayed for a repeated
    Idempotency-Key (``replayed``: no new campaign, no WeCom call)."""

    body: dict[str, Any]
    creating: bool
    replayed: bool = False


def _now() -> int:
    return int(time.time())


def _client() -> WeComClient:
    return runtime.wecom_client()


def backoff(attempt: int) -> None:
    _sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)] * (0.8 + 0.4 * random.random()))  # noqa: S311


def _idempotency_ttl_s() -> int:
    return config.env_int("CAMPAIGN_IDEMPOTENCY_TTL_HOURS", 24) * 3600


# ----------------------------------------------------------------------------------------------- create
def create_campaign(
    body: Any, idempotency_key: str | None, *, now: int | None = None, deadline: float | None = None
) -> CreateResult:
    """Validate, store the intent, then create the WeCom tasks (or leave the campaign ``scheduled``).

    ``deadline`` (``time.monotonic()``) stops before the Lambda's own timeout; what is left is resumed by the
    scheduled function, and the answer is the campaign as it stands (``creating``).
    """
    now = _now() if now is None else now
    spec = campaign_validation.parse_campaign(body, now)
    key = campaign_validation.parse_idempotency_key(idempotency_key)
    media.check_exist(spec["attachments"])
    request_hash = _request_hash(spec)
    if key is not None:
        replay = _replay(key, request_hash, now)
        if replay is not None:
            return replay
    campaign_id = f"cmp-{time.time_ns() // 1_000_000:011x}{uuid.uuid4().hex[:8]}"
    owner = None if _is_scheduled(spec, now) else uuid.uuid4().hex
    campaign, chunks, parts = plan_campaign(campaign_id, spec, now, owner)
    for kind, chunk, part, ids in parts:
        storage.put_campaign_part(campaign_id, kind, chunk, part, ids)
    idempotency = None
    if key is not None:
        idempotency = {
            "key": key,
            "request_hash": request_hash,
            "campaign_id": campaign_id,
            "created_at": now,
            "expires_at": now + _idempotency_ttl_s(),
        }
    if not storage.create_campaign_items(campaign, chunks, idempotency, now):
        storage.delete_campaign_parts(campaign_id, [storage.part_sk(k, c, p) for k, c, p, _ in parts])
        return _replay(str(key), request_hash, now) or _conflict("the key is being used right now")
    if owner is not None:
        send_campaign(campaign_id, owner, deadline=deadline)
    return _answer(campaign_id)


def _is_scheduled(spec: dict[str, Any], now: int) -> bool:
    return spec["send_at"] is not None and spec["send_at"] > now


def _request_hash(spec: dict[str, Any]) -> str:
    canonical = json.dumps(spec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _conflict(detail: str, campaign_id: str | None = None) -> CreateResult:
    raise IdempotencyConflict(f"Idempotency-Key conflict: {detail}", campaign_id)


def _replay(key: str, request_hash: str, now: int) -> CreateResult | None:
    """Same key and same body: the stored campaign, no new WeCom call. Same key, other body: a conflict."""
    held = storage.get_idempotency(key)
    if held is None or int(held.get("expires_at", 0)) < now:
        return None
    if held["request_hash"] != request_hash:
        _conflict("it was used with a different body", campaign_id=held["campaign_id"])
    answer = _answer(held["campaign_id"])
    return CreateResult(answer.body, answer.creating, replayed=True)


def _answer(campaign_id: str) -> CreateResult:
    """The POST answer, rebuilt from storage (so a replay answers exactly what the first request did)."""
    campaign, chunks, _ = storage.campaign_view(campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    if campaign["status"] == "failed":
        raise WeComRefused(
            f"WeCom refused the campaign: {campaign.get('errmsg', '')}".strip(),
            errcode=campaign.get("errcode"),
            campaign_id=campaign_id,
        )
    body: dict[str, Any] = {
        "campaign_id": campaign_id,
        "status": campaign["status"],
        "msgids": [c["msgid"] for c in chunks if c.get("msgid")],
        "fail_list": [i for c in chunks if c.get("fail_count") for i in _fail_ids(campaign_id, c)],
    }
    if campaign.get("send_at") is not None:
        body["send_at"] = campaign["send_at"]
    errors = _chunk_errors(chunks)
    if errors:
        body["chunk_errors"] = errors
    return CreateResult(body, creating=campaign["status"] == "creating")


def _fail_ids(campaign_id: str, chunk: dict[str, Any]) -> list[str]:
    return storage.campaign_part_ids(campaign_id, "FAIL", int(chunk["chunk"]))


def _chunk_errors(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"chunk": c["chunk"], "errcode": c.get("errcode"), "errmsg": c.get("errmsg", "")}
        for c in chunks
        if c.get("state") == "failed"
    ]


def plan_campaign(
    campaign_id: str, spec: dict[str, Any], now: int, owner: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]], list[tuple[str, int, int, list[str]]]]:
    """The campaign record, one chunk intent per add_msg_template call, and the audience parts."""
    ids = spec["external_userid"] or spec["chat_id_list"]
    slices = [ids[i : i + CHUNK_SIZE] for i in range(0, len(ids), CHUNK_SIZE)] or [[]]
    fingerprint = content_fingerprint(spec["chat_type"], spec["text"], spec["attachments"])
    chunks = [
        _without_none(
            {
                "campaign_id": campaign_id,
                "chunk": n,
                "state": "pending",
                "audience_count": len(ids_n),
                "chat_type": spec["chat_type"],
                "sender": spec["sender"],
                "fingerprint": fingerprint,
            }
        )
        for n, ids_n in enumerate(slices, start=1)
    ]
    parts = [
        ("AUD", n, p, ids_n[j : j + PART_SIZE])
        for n, ids_n in enumerate(slices, start=1)
        for p, j in enumerate(range(0, len(ids_n), PART_SIZE))
    ]
    return _campaign_record(campaign_id, spec, now, owner, len(ids), len(chunks)), chunks, parts


def _campaign_record(
    campaign_id: str, spec: dict[str, Any], now: int, owner: str | None, audience: int, chunks: int
) -> dict[str, Any]:
    record = {
        "campaign_id": campaign_id,
        "name": spec["name"],
        "origin": ORIGIN,
        "chat_type": spec["chat_type"],
        "sender": spec["sender"],
        "text": spec["text"],
        "attachments": spec["attachments"],
        "tag_filter": spec["tag_filter"],
        "allow_select": spec["allow_select"],
        "audience_field": "chat_id_list" if spec["chat_type"] == "group" else "external_userid",
        "audience_size": audience,
        "chunk_count": chunks,
        "send_at": spec["send_at"],
        "created_at": now,
        "reminder_policy": spec["reminders"],
        "totals": zero_totals(),
        **storage.campaign_list_keys(now, campaign_id),
        "gsi3pk": storage.DUE_SEND,
    }
    if owner is None:
        record |= {
            **storage.campaign_status_keys("scheduled"),
            "gsi3sk": storage.due_sk(spec["send_at"], campaign_id),
        }
    else:
        lease = now + LEASE_S
        record |= {
            **storage.campaign_status_keys("creating"),
            "owner": owner,
            "lease_until": lease,
            "gsi3sk": storage.due_sk(lease, campaign_id),
        }
    return _without_none(record)


def _without_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


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


# ----------------------------------------------------------------------------------------------- sending
def send_campaign(campaign_id: str, owner: str, *, deadline: float | None = None) -> str:
    """Create the remaining chunks' tasks, in order, while we hold the lease; answers the resulting status."""
    campaign = storage.get_campaign(campaign_id)
    if campaign is None or campaign.get("owner") != owner:
        return campaign["status"] if campaign else "missing"
    client = _client()
    for chunk in storage.campaign_chunks(campaign_id):
        if chunk["state"] in ("sent", "failed"):
            continue
        if deadline is not None and time.monotonic() > deadline:
            storage.release_campaign_lease(campaign_id, owner, _now())
            return "creating"
        if not storage.renew_campaign_lease(campaign_id, owner, _now() + LEASE_S):
            return _after_lost_lease(campaign_id)
        try:
            _send_chunk(client, campaign, chunk)
        except _Unavailable:
            storage.release_campaign_lease(campaign_id, owner, _now())
            return "creating"
    return _finish(campaign, owner)


def _send_chunk(client: WeComClient, campaign: dict[str, Any], chunk: dict[str, Any]) -> None:
    """One add_msg_template call for one chunk, retried only where WeCom cannot have created anything."""
    campaign_id, n = campaign["campaign_id"], int(chunk["chunk"])
    if chunk["state"] == "calling" and _repair_chunk(client, chunk):
        return  # an earlier sender's call did create the task: linked, nothing to call
    now = _now()
    first = int(chunk.get("first_attempt_at") or now)
    if not storage.start_chunk_call(campaign_id, n, chunk["fingerprint"], first, now):
        return  # linked meanwhile (by a repair)
    chunk = {**chunk, "state": "calling", "first_attempt_at": first, "attempt_at": now}
    body = task_body(campaign, storage.campaign_part_ids(campaign_id, "AUD", n))
    used = _resolve_media(client, body, campaign)
    for attempt in range(CALL_ATTEMPTS):
        try:
            answer = groupmsg.add_msg_template(client, body, timeout=CALL_TIMEOUT)
        except TransportError:
            backoff(attempt)  # the request may have reached WeCom: look for its task before calling again
            if _repair_chunk(client, chunk):
                return
            continue
        except WeComError as exc:
            if exc.retryable:  # rate limit or busy: WeCom refused, nothing was created
                backoff(attempt)
                continue
            if (
                exc.errcode == Errcode.INVALID_MEDIA_ID and used
            ):  # refused, nothing created: fresh uploads, once
                for ref, media_id in used.items():
                    media.invalidate(ref, media_id)
                _resolve_media(client, body, campaign)
                used = {}
                continue
            storage.record_chunk_failed(campaign_id, n, exc.errcode, exc.errmsg)
            logger.warning("campaign %s chunk %s refused: errcode %s", campaign_id, n, exc.errcode)
            return
        _record_answer(campaign_id, n, answer)
        return
    raise _Unavailable()


def _resolve_media(client: WeComClient, body: dict[str, Any], campaign: dict[str, Any]) -> dict[Any, str]:
    """Bucket references → WeCom ids in the call's body (the stored campaign keeps the references, so a
    resumed or scheduled send resolves afresh); answers the ids used. No id: retry at the next run."""
    if not media.refs_in(campaign.get("attachments")):
        return {}
    try:
        resolution = media.resolve_attachments(campaign["attachments"], client)
    except media.MediaUnavailable as exc:
        logger.warning("campaign %s media unavailable: %s", campaign["campaign_id"], exc.reason)
        raise _Unavailable() from exc
    body["attachments"] = resolution.attachments
    return resolution.used


def task_body(campaign: dict[str, Any], ids: list[str]) -> dict[str, Any]:
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


def _record_answer(campaign_id: str, chunk: int, answer: dict[str, Any]) -> None:
    msgid = str(answer["msgid"])
    fail_list = [str(i) for i in answer.get("fail_list") or []]
    for p, j in enumerate(range(0, len(fail_list), PART_SIZE)):
        storage.put_campaign_part(campaign_id, "FAIL", chunk, p, fail_list[j : j + PART_SIZE])
    if not _link(campaign_id, chunk, msgid, len(fail_list), "call"):
        logger.error("campaign %s chunk %s: msgid already belongs to another chunk", campaign_id, chunk)


def _link(campaign_id: str, chunk: int, msgid: str, fail_count: int | None, linked_by: str) -> bool:
    """Register the msgid for this chunk, then record it on the chunk. WeCom's own answer (``call``) wins
    over a repair's guess: a chunk wrongly linked by a repair is put back to be repaired again."""
    now = _now()
    won, previous = storage.claim_msgid(msgid, campaign_id, chunk, linked_by, now)
    if not won:
        return False
    if previous and (previous["campaign_id"], int(previous["chunk"])) != (campaign_id, chunk):
        storage.unlink_chunk(previous["campaign_id"], int(previous["chunk"]), msgid)
    storage.record_chunk_sent(campaign_id, chunk, msgid, fail_count, linked_by, now)
    return True


def _finish(campaign: dict[str, Any], owner: str) -> str:
    """All chunks settled: ``active`` (some task exists) or ``failed`` (WeCom refused every chunk)."""
    campaign_id, now = campaign["campaign_id"], _now()
    chunks = storage.campaign_chunks(campaign_id)
    sent = [c for c in chunks if c.get("msgid")]
    fields: dict[str, Any] = {
        "sent_at": now,
        "msgid_count": len(sent),
        "fail_list_size": sum(int(c.get("fail_count") or 0) for c in chunks),
    }
    if not sent:
        refusal = next((c for c in chunks if c.get("errcode") is not None), {})
        fields |= {"errcode": refusal.get("errcode"), "errmsg": refusal.get("errmsg", "")}
    policy = ReminderPolicy.from_dict(campaign.get("reminder_policy"))
    remind_at = policy.first_turn(now) if sent else None
    status = "active" if sent else "failed"
    if storage.finish_campaign_send(campaign_id, owner, status, _without_none(fields), remind_at):
        return status
    return _after_lost_lease(campaign_id)


def _after_lost_lease(campaign_id: str) -> str:
    """Cancelled while we were creating: cancel what we (or anyone) created; else someone took over."""
    campaign = storage.get_campaign(campaign_id)
    status = campaign["status"] if campaign else "missing"
    if status == "cancelled":
        cancel_sent_chunks(campaign_id)
    return status


def run_due_sends(now: int, deadline: float | None = None) -> dict[str, int]:
    """Scheduled function: create due ``scheduled`` campaigns and resume stalled ``creating`` ones, each
    exactly once (a conditional claim; a second concurrent run finds nothing to claim)."""
    created = claimed = 0
    for campaign in storage.due_campaigns(storage.DUE_SEND, now, DUE_BATCH):
        if deadline is not None and time.monotonic() > deadline:
            break
        owner = uuid.uuid4().hex
        if storage.claim_campaign_send(campaign["campaign_id"], owner, now, now + LEASE_S) is None:
            continue
        claimed += 1
        if send_campaign(campaign["campaign_id"], owner, deadline=deadline) in ("active", "failed"):
            created += 1
    return {"campaigns_claimed": claimed, "campaigns_created": created}


# ----------------------------------------------------------------------------------------------- repair
def row_time(row: dict[str, Any]) -> int | None:
    """A get_groupmsg_list_v2 row's ``create_time`` (a string in WeCom's answers), None when unusable."""
    try:
        return int(row["create_time"])  # a string in list_v2 answers
    except (KeyError, TypeError, ValueError):
        return None


def _row_matches(row: dict[str, Any], chunk: dict[str, Any]) -> bool:
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


def _repair_chunk(client: WeComClient, chunk: dict[str, Any]) -> bool:
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
        for rows, _cursor in groupmsg.get_groupmsg_list_v2(client, query, timeout=CALL_TIMEOUT):
            for row in rows:
                if _link_if_match(row, chunk):
                    logger.info(
                        "campaign %s chunk %s repaired from list_v2", chunk["campaign_id"], chunk["chunk"]
                    )
                    return True
    except (WeComError, TransportError) as exc:
        logger.warning("list_v2 repair of campaign %s failed: %s", chunk["campaign_id"], type(exc).__name__)
    return False


def _link_if_match(row: dict[str, Any], chunk: dict[str, Any]) -> bool:
    msgid = str(row.get("msgid") or "")
    if not msgid or not _row_matches(row, chunk) or storage.get_msgid_owner(msgid) is not None:
        return False
    return _link(chunk["campaign_id"], int(chunk["chunk"]), msgid, None, "repair")


def link_orphan_task(row: dict[str, Any], chat_type: str, *, now: int | None = None) -> dict[str, Any] | None:
    """Link one ``get_groupmsg_list_v2`` task that storage does not know to the chunk intent that created it.

    For the result sync: call it for every unknown task before ingesting it as created outside the product.
    Candidates are chunk intents still without a msgid, with the same content fingerprint, whose call window
    contains the task's ``create_time`` and whose last attempt is old enough not to be answering still.
    Answers ``{"campaign_id", "chunk", "msgid"}`` or None (not ours, or already linked).
    """
    now = _now() if now is None else now
    msgid, created = str(row.get("msgid") or ""), row_time(row)
    if not msgid or created is None or storage.get_msgid_owner(msgid) is not None:
        return None
    fingerprint = content_fingerprint(chat_type, row.get("text"), row.get("attachments") or [])
    candidates = storage.unlinked_chunks(fingerprint, created - ORPHAN_LOOKBACK_S, created + LINK_SLACK_S)
    for chunk in sorted(candidates, key=lambda c: (int(c.get("first_attempt_at", 0)), c["campaign_id"])):
        if int(chunk.get("attempt_at", 0)) > now - MIN_ORPHAN_AGE_S or not _row_matches(row, chunk):
            continue
        if _link(chunk["campaign_id"], int(chunk["chunk"]), msgid, None, "repair"):
            return {"campaign_id": chunk["campaign_id"], "chunk": int(chunk["chunk"]), "msgid": msgid}
    return None


def own_send_in_flight(row: dict[str, Any], chat_type: str, *, now: int | None = None) -> bool:
    """Could one of our own chunk sends still be about to register this corp task itself?

    True only while a chunk intent with the task's content has no msgid yet and was last attempted less than
    a send lease ago (its sender may be between WeCom's answer and its DynamoDB write); ingesting the task
    then would show one task as two campaigns. Anything else (a console task, a long-dead sender's task:
    ``link_orphan_task`` takes those) is not in flight, so it is ingested or linked at the first sync.
    """
    now = _now() if now is None else now
    created = row_time(row)
    if created is None:
        return False
    fingerprint = content_fingerprint(chat_type, row.get("text"), row.get("attachments") or [])
    candidates = storage.unlinked_chunks(fingerprint, created - ORPHAN_LOOKBACK_S, created + LINK_SLACK_S)
    return any(int(c.get("attempt_at", 0)) > now - LEASE_S and _row_matches(row, c) for c in candidates)


# ----------------------------------------------------------------------------------------------- cancel
def cancel_campaign(campaign_id: str, *, now: int | None = None) -> dict[str, Any]:
    """``cancelled`` first (stops a sender and the reminders), then cancel_groupmsg_send for every msgid.

    Idempotent: a second cancel re-tries only msgids WeCom has not confirmed yet. A scheduled campaign has
    no msgid, so it is cancelled without any WeCom call. Sent counts (totals) are left as they are.
    """
    campaign = storage.get_campaign(known_id(campaign_id))
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    if campaign["status"] == "failed":
        raise InvalidState("the campaign failed: WeCom holds no task to cancel")
    storage.mark_campaign_cancelled(campaign_id, _now() if now is None else now)
    outcome = cancel_sent_chunks(campaign_id)
    return {"campaign_id": campaign_id, "status": "cancelled", **outcome}


def cancel_sent_chunks(campaign_id: str) -> dict[str, Any]:
    """cancel_groupmsg_send for every chunk with a msgid not yet cancelled (transient faults retried)."""
    cancelled: list[str] = []
    failed: list[dict[str, Any]] = []
    client: WeComClient | None = None
    for chunk in storage.campaign_chunks(campaign_id):
        msgid = chunk.get("msgid")
        if not msgid:
            continue
        if chunk.get("cancelled_at") is None:
            client = client or _client()
            error = _cancel_msgid(client, str(msgid))
            if error is not None:
                failed.append({"msgid": msgid, **error})
                continue
            storage.mark_chunk_cancelled(campaign_id, int(chunk["chunk"]), _now())
        cancelled.append(str(msgid))
    return {"msgids": cancelled + [f["msgid"] for f in failed], "cancelled": cancelled, "failed": failed}


def _cancel_msgid(client: WeComClient, msgid: str) -> dict[str, Any] | None:
    """None when WeCom confirmed (cancel is idempotent, so every fault is safe to retry)."""
    error: dict[str, Any] = {}
    for attempt in range(CALL_ATTEMPTS + 1):
        try:
            groupmsg.cancel_groupmsg_send(client, msgid, timeout=CALL_TIMEOUT)
            return None
        except TransportError as exc:
            error = {"reason": exc.reason}
        except WeComError as exc:
            error = {"errcode": exc.errcode, "reason": exc.errmsg}
            if not exc.retryable:
                return error
        if attempt < CALL_ATTEMPTS:
            backoff(attempt)
    return error


# ----------------------------------------------------------------------------------------------- read
def get_campaign(campaign_id: str) -> dict[str, Any]:
    """Everything an operator sees about one campaign (not the audience: that can be 100 000 ids)."""
    campaign, chunks, events = storage.campaign_view(known_id(campaign_id))
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
    members, truncated = campaign_results.member_stats(chunks)
    doc |= {"members": members, "members_truncated": truncated}
    doc["sync"] = campaign_results.sync_states(doc["msgids"]) if doc["msgids"] else []
    return doc


def _summary(campaign: dict[str, Any]) -> dict[str, Any]:
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


def _chunk_view(chunk: dict[str, Any]) -> dict[str, Any]:
    keys = ("chunk", "state", "msgid", "audience_count", "fail_count", "errcode", "sent_at", "cancelled_at")
    return {key: chunk[key] for key in keys if chunk.get(key) is not None}


def list_campaigns(params: dict[str, str]) -> dict[str, Any]:
    """Campaigns newest first, optionally of one status, a page at a time (``cursor``)."""
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ValidationError("status", f"must be one of {', '.join(STATUSES)}")
    limit = parse_limit(params.get("limit"))
    scope = f"campaigns|{status or ''}"  # each status is its own index partition
    cursor = cursors.unseal(scope, params["cursor"]) if params.get("cursor") else None
    if not isinstance(cursor, str | None):
        raise ValidationError("cursor", "is not a cursor this API gave out for this listing")
    page = storage.list_campaigns(status, limit=limit, cursor=cursor)
    return {
        "items": [_summary(c) for c in page.items],
        "cursor": page.cursor and cursors.seal(scope, page.cursor),
    }
