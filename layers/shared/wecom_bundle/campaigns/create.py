"""Create a campaign: validate, store the intent, then send now or leave it ``scheduled``.

Order of work (never a WeCom call inside a transaction):
1. validate everything (400 naming the field), so a bad body causes no WeCom call;
   with ``skip_capped``, leave out the customers capped now (decided once; kept in SKIP parts);
2. write the audience parts, then one DynamoDB transaction: campaign record + chunk intents + idempotency key;
3. hand the campaign to ``send`` (one chunk of at most 10 000 recipients per ``add_msg_template`` call).
A repeated Idempotency-Key with the same body replays the stored answer; with another body it conflicts.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from wecom_bundle import config, telemetry
from wecom_bundle.campaigns import cap, limits, repair, send, validation
from wecom_bundle.campaigns.deps import CampaignDeps
from wecom_bundle.campaigns.status import CampaignStatus, ChunkState
from wecom_bundle.domain_errors import AudienceCapped, IdempotencyConflict, WeComRefused
from wecom_bundle.dynamo import keys
from wecom_bundle.result_sync.totals import zero_totals
from wecom_bundle.validation import NotFound

if TYPE_CHECKING:
    from wecom_bundle.campaigns.records import CampaignChunk

ORIGIN = "admin_api"


@dataclass(frozen=True)
class CreateResult:
    """A create's answer: the campaign as it stands (``body``), whether the scheduled function still has
    tasks to create for it (``creating``), and whether it is a stored answer replayed for a repeated
    Idempotency-Key (``replayed``: no new campaign, no WeCom call)."""

    body: dict[str, Any]
    creating: bool
    replayed: bool = False


def _idempotency_ttl_s() -> int:
    return config.env_int("CAMPAIGN_IDEMPOTENCY_TTL_HOURS", 24) * 3600


# ----------------------------------------------------------------------------------------------- create
def create_campaign(
    deps: CampaignDeps,
    body: Any,
    idempotency_key: str | None,
    *,
    now: int | None = None,
    deadline: float | None = None,
) -> CreateResult:
    """Validate, store the intent, then create the WeCom tasks (or leave the campaign ``scheduled``).

    ``deadline`` (``time.monotonic()``) stops before the Lambda's own timeout; what is left is resumed by the
    scheduled function, and the answer is the campaign as it stands (``creating``).
    """
    now = deps.now() if now is None else now
    spec = validated_spec(deps, body, now, past_send_at=True)
    key = idempotency_key  # its form is the admin header model's
    request_hash = _request_hash(spec)
    if key is not None:
        replay = _replay(deps, key, request_hash, now)
        if replay is not None:
            return replay
    validation.refuse_past_send_at(spec, now)
    skipped = _capped_to_skip(deps, spec, now)  # decided once: a replay answers what was stored
    campaign_id = f"cmp-{time.time_ns() // 1_000_000:011x}{uuid.uuid4().hex[:8]}"
    owner = None if _is_scheduled(spec, now) else uuid.uuid4().hex
    campaign, chunks, parts = plan_campaign(deps, campaign_id, spec, now, owner, skipped)
    for kind, chunk, part, ids in parts:
        deps.repo.put_campaign_part(campaign_id, kind, chunk, part, ids)
    idempotency = None
    if key is not None:
        idempotency = {
            "key": key,
            "request_hash": request_hash,
            "campaign_id": campaign_id,
            "created_at": now,
            "expires_at": now + _idempotency_ttl_s(),
        }
    if not deps.repo.create_campaign_items(campaign, chunks, idempotency, now):
        deps.repo.delete_campaign_parts(campaign_id, [keys.part_sk(k, c, p) for k, c, p, _ in parts])
        return _replay(deps, str(key), request_hash, now) or _conflict("the key is being used right now")
    telemetry.count("CampaignCreated", {"send": "later" if owner is None else "now"})
    if owner is not None:
        send.send_campaign(deps, campaign_id, owner, deadline=deadline)
    return _answer(deps, campaign_id)


def validated_spec(deps: CampaignDeps, body: Any, now: int, *, past_send_at: bool = False) -> dict[str, Any]:
    """The normalised spec of a create body, with every check that needs no stored state (the rules across
    fields, bucket objects exist): what a create and a preview refuse alike, with the same 400s.
    ``past_send_at``: leave a past ``send_at`` to the caller (a create checks it after a replay's lookup)."""
    spec = validation.parse_campaign(body, now, deps.zone())
    if not past_send_at:
        validation.refuse_past_send_at(spec, now)
    deps.media.check_exist(spec["attachments"])
    return spec


def _capped_to_skip(deps: CampaignDeps, spec: dict[str, Any], now: int) -> list[str] | None:
    """With ``skip_capped``: the customers capped now, to leave out (None without the flag). Refuses when
    nobody would be left: WeCom is never sent an empty task."""
    if not spec["skip_capped"]:
        return None
    caps = deps.cap()
    cap.check_send_at(caps, spec, now)
    skipped = cap.capped_among(caps, spec["external_userid"], now)
    if len(skipped) >= len(spec["external_userid"]):
        raise AudienceCapped(
            f"every one of the {len(skipped)} customers is capped in period {caps.period(now)}: nothing to send",
            count=len(skipped),
            period=caps.period(now),
        )
    return skipped


def _is_scheduled(spec: dict[str, Any], now: int) -> bool:
    return spec["send_at"] is not None and spec["send_at"] > now


def _request_hash(spec: dict[str, Any]) -> str:
    """The hash of the normalised request. ``skip_capped`` counts only when set: a create without it
    hashes as it did before the flag existed (keys held from then still replay)."""
    hashed = spec if spec.get("skip_capped") else {k: v for k, v in spec.items() if k != "skip_capped"}
    canonical = json.dumps(hashed, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _conflict(detail: str, campaign_id: str | None = None) -> CreateResult:
    raise IdempotencyConflict(f"Idempotency-Key conflict: {detail}", campaign_id)


def _replay(deps: CampaignDeps, key: str, request_hash: str, now: int) -> CreateResult | None:
    """Same key and same body: the stored campaign, no new WeCom call. Same key, other body: a conflict."""
    held = deps.repo.get_idempotency(key)
    if held is None or int(held.get("expires_at", 0)) < now:
        return None
    if held["request_hash"] != request_hash:
        _conflict("it was used with a different body", campaign_id=held["campaign_id"])
    answer = _answer(deps, held["campaign_id"])
    return CreateResult(answer.body, answer.creating, replayed=True)


def _answer(deps: CampaignDeps, campaign_id: str) -> CreateResult:
    """The POST answer, rebuilt from storage (so a replay answers exactly what the first request did)."""
    campaign, chunks, _ = deps.repo.campaign_view(campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    if campaign["status"] == CampaignStatus.FAILED:
        raise WeComRefused(
            f"WeCom refused the campaign: {campaign.get('errmsg', '')}".strip(),
            errcode=campaign.get("errcode"),
            campaign_id=campaign_id,
        )
    body: dict[str, Any] = {
        "campaign_id": campaign_id,
        "status": campaign["status"],
        "msgids": [c["msgid"] for c in chunks if c.get("msgid")],
        "fail_list": [i for c in chunks if c.get("fail_count") for i in _fail_ids(deps, campaign_id, c)],
    }
    if campaign.get("send_at") is not None:
        body["send_at"] = campaign["send_at"]
    # only a skip_capped create says how many it left out: without the flag the answer is as it always was
    if campaign.get("skipped_capped") is not None:
        body["skipped_capped"] = campaign["skipped_capped"]
    errors = _chunk_errors(chunks)
    if errors:
        body["chunk_errors"] = errors
    return CreateResult(body, creating=campaign["status"] == CampaignStatus.CREATING)


def _fail_ids(deps: CampaignDeps, campaign_id: str, chunk: CampaignChunk) -> list[str]:
    return deps.repo.campaign_part_ids(campaign_id, "FAIL", int(chunk["chunk"]))


def _chunk_errors(chunks: list[CampaignChunk]) -> list[dict[str, Any]]:
    return [
        {"chunk": c["chunk"], "errcode": c.get("errcode"), "errmsg": c.get("errmsg", "")}
        for c in chunks
        if c.get("state") == ChunkState.FAILED
    ]


def audience_slices(ids: list[str], chunk_size: int) -> list[list[str]]:
    """One slice per add_msg_template call; an audience WeCom chooses (sender, tag_filter) is one call."""
    return [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)] or [[]]


def plan_campaign(
    deps: CampaignDeps,
    campaign_id: str,
    spec: dict[str, Any],
    now: int,
    owner: str | None,
    skipped: list[str] | None = None,
) -> tuple[dict[str, Any], list[CampaignChunk], list[tuple[str, int, int, list[str]]]]:
    """The campaign record, one chunk intent per add_msg_template call, and the audience parts; with
    ``skipped`` (a skip_capped create) those customers are out of the audience and kept in SKIP parts."""
    ids = spec["external_userid"] or spec["chat_id_list"]
    if skipped is not None:
        ids = cap.uncapped(ids, skipped)
    slices = audience_slices(ids, deps.chunk_size)
    fingerprint = repair.content_fingerprint(spec["chat_type"], spec["text"], spec["attachments"])
    chunks = [
        cast(
            "CampaignChunk",
            limits.without_none(
                {
                    "campaign_id": campaign_id,
                    "chunk": n,
                    "state": ChunkState.PENDING,
                    "audience_count": len(ids_n),
                    "chat_type": spec["chat_type"],
                    "sender": spec["sender"],
                    "fingerprint": fingerprint,
                }
            ),
        )
        for n, ids_n in enumerate(slices, start=1)
    ]
    parts = [
        ("AUD", n, p, ids_n[j : j + deps.part_size])
        for n, ids_n in enumerate(slices, start=1)
        for p, j in enumerate(range(0, len(ids_n), deps.part_size))
    ]
    record = _campaign_record(campaign_id, spec, now, owner, len(ids), len(chunks))
    if skipped is not None:
        kind, chunk = cap.SKIPPED_PART
        skip_parts = [
            (kind, chunk, p, skipped[j : j + deps.part_size])
            for p, j in enumerate(range(0, len(skipped), deps.part_size))
        ]
        record |= {"skipped_capped": len(skipped), "skipped_parts": len(skip_parts)}
        parts += skip_parts
    return record, chunks, parts


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
        **keys.campaign_list_keys(now, campaign_id),
        "gsi3pk": keys.DUE_SEND,
    }
    if owner is None:
        record |= {
            **keys.campaign_status_keys(CampaignStatus.SCHEDULED),
            "gsi3sk": keys.due_sk(spec["send_at"], campaign_id),
        }
    else:
        lease = now + limits.LEASE_S
        record |= {
            **keys.campaign_status_keys(CampaignStatus.CREATING),
            "owner": owner,
            "lease_until": lease,
            "gsi3sk": keys.due_sk(lease, campaign_id),
        }
    return limits.without_none(record)
