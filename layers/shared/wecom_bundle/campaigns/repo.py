"""The campaigns' DynamoDB access patterns, one function each (docs/data-model.md, "Campaigns").

Why here: the campaign services (create, send, repair, cancel, queries) ask for what they need (store a part,
claim a send, register a msgid) and never build a request; every read is a GetItem or a Query on a key or an
index, never a Scan. Keys come from ``dynamo.keys``, the request plumbing from ``dynamo.table``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from wecom_bundle.campaigns.status import CampaignStatus, ChunkState
from wecom_bundle.dynamo.client import client, is_condition_failure
from wecom_bundle.dynamo.codec import decode_item, encode, encode_item
from wecom_bundle.dynamo.keys import (
    CAMPAIGN_LIST_PK,
    CAMPAIGN_SK,
    CHUNK_PREFIX,
    DUE_REMIND,
    DUE_SEND,
    EVENT_PREFIX,
    VIEW_LAST_SK,
    campaign_key,
    campaign_pk,
    campaign_status_keys,
    campaigns_by_status_pk,
    chunk_key,
    chunk_sk,
    due_sk,
    due_upto,
    idempotency_key,
    msgid_key,
    orphan_keys,
    orphan_pk,
    orphan_sk_from,
    part_prefix,
    part_sk,
    sync_due_keys,
)
from wecom_bundle.dynamo.table import (
    Page,
    due,
    expression_values,
    public,
    query_all,
    query_index,
    table_name,
    transact,
    update,
)

# ----------------------------------------------------------------------------------------------- campaigns
# Layout (docs/data-model.md, "Campaigns"): one partition per campaign holds the campaign record, its chunk
# intents, audience / fail-list parts (<= 5 000 ids per item: items are capped at 400 KB) and reminder
# events. Sort keys are chosen so that one Query of "CAMPAIGN".."EVENT#~" reads everything an operator
# sees without the (large) PART# items.

if TYPE_CHECKING:
    from wecom_bundle.campaigns.records import CampaignChunk, CampaignRecord


def put_campaign_part(campaign_id: str, kind: str, chunk: int, part: int, ids: list[str]) -> None:
    """Store up to 5 000 ids (audience or fail_list). Plain PutItem: rewriting the same part is harmless."""
    item = {"pk": campaign_pk(campaign_id), "sk": part_sk(kind, chunk, part), "ids": ids}
    client().put_item(TableName=table_name(), Item=encode_item(item))


def campaign_part_ids(campaign_id: str, kind: str, chunk: int) -> list[str]:
    """Every id of one chunk's audience (AUD) or fail_list (FAIL), in part order."""
    parts = query_all(campaign_pk(campaign_id), part_prefix(kind, chunk))  # in sort-key (part) order
    return [i for part in parts for i in part.get("ids", [])]


def campaign_part(campaign_id: str, kind: str, chunk: int, part: int) -> list[str]:
    """The ids of one part (GetItem; [] when there is no such part): a page of a long list."""
    answer = client().get_item(
        TableName=table_name(),
        Key=encode_item({"pk": campaign_pk(campaign_id), "sk": part_sk(kind, chunk, part)}),
        ConsistentRead=True,
    )
    return list(decode_item(answer["Item"]).get("ids", [])) if "Item" in answer else []


def delete_campaign_parts(campaign_id: str, sort_keys: list[str]) -> None:
    """Remove parts written for a campaign that was never created (lost an idempotency race)."""
    for sort_key in sort_keys:
        client().delete_item(
            TableName=table_name(), Key=encode_item({"pk": campaign_pk(campaign_id), "sk": sort_key})
        )


def create_campaign_items(
    campaign: dict[str, Any], chunks: list[CampaignChunk], idempotency: dict[str, Any] | None, now: int
) -> bool:
    """Write the campaign record, its chunk intents and (if any) its idempotency key in one transaction.

    False when the idempotency key is already held by an unexpired claim (the caller replays or answers 409).
    A DynamoDB transaction only: the WeCom calls happen after it commits, never inside it.
    """
    pk = campaign_pk(campaign["campaign_id"])
    items: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table_name(),
                "Item": encode_item({"pk": pk, "sk": CAMPAIGN_SK, **campaign}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    items += [
        {"Put": {"TableName": table_name(), "Item": encode_item({"pk": pk, "sk": chunk_sk(c["chunk"]), **c})}}
        for c in chunks
    ]
    if idempotency is not None:
        items.append(
            {
                "Put": {
                    "TableName": table_name(),
                    "Item": encode_item({**idempotency_key(idempotency["key"]), **idempotency}),
                    "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
                    "ExpressionAttributeValues": {":now": encode(now)},
                }
            }
        )
    return transact(items)  # False: only the idempotency record has a condition


def get_idempotency(key: str) -> dict[str, Any] | None:
    answer = client().get_item(
        TableName=table_name(),
        Key=encode_item(idempotency_key(key)),
        ConsistentRead=True,
    )
    return public(decode_item(answer["Item"])) if "Item" in answer else None


def get_campaign(campaign_id: str) -> CampaignRecord | None:
    answer = client().get_item(
        TableName=table_name(), Key=encode_item(campaign_key(campaign_id)), ConsistentRead=True
    )
    return cast("CampaignRecord", public(decode_item(answer["Item"]))) if "Item" in answer else None


def campaign_view(
    campaign_id: str,
) -> tuple[CampaignRecord | None, list[CampaignChunk], list[dict[str, Any]]]:
    """The campaign record, its chunks and its events in one consistent Query (no audience parts)."""
    request: dict[str, Any] = {
        "TableName": table_name(),
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": expression_values(
            pk=campaign_pk(campaign_id), first=CAMPAIGN_SK, last=VIEW_LAST_SK
        ),
        "ConsistentRead": True,
    }
    rows: list[dict[str, Any]] = []
    while True:
        answer = client().query(**request)
        rows.extend(decode_item(item) for item in answer.get("Items", []))
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    campaign = next((cast("CampaignRecord", public(r)) for r in rows if r["sk"] == CAMPAIGN_SK), None)
    chunks = [cast("CampaignChunk", public(r)) for r in rows if r["sk"].startswith(CHUNK_PREFIX)]
    events = [public(r) for r in rows if r["sk"].startswith(EVENT_PREFIX)]
    return campaign, chunks, events


def campaign_chunks(campaign_id: str) -> list[CampaignChunk]:
    """A campaign's chunk intents in chunk order (at most one per 10 000 recipients)."""
    chunks = cast("list[CampaignChunk]", query_all(campaign_pk(campaign_id), CHUNK_PREFIX))
    return sorted(chunks, key=lambda c: c["chunk"])


def list_campaigns(status: str | None, *, limit: int, cursor: str | None) -> Page:
    """Campaigns newest first: all of them (gsi1) or one status (gsi2)."""
    if status is None:
        return query_index("gsi1", CAMPAIGN_LIST_PK, limit=limit, cursor=cursor)
    return query_index("gsi2", campaigns_by_status_pk(status), limit=limit, cursor=cursor)


def due_campaigns(kind: str, now: int, limit: int) -> list[CampaignRecord]:
    """Campaigns whose send (DUE#SEND) or reminder turn (DUE#REMIND) is due, oldest first (gsi3)."""
    return cast("list[CampaignRecord]", due("gsi3", kind, now, limit))


# --- sending: the claim (lease) on a campaign and the intent / outcome of each chunk
def claim_campaign_send(campaign_id: str, owner: str, now: int, lease_until: int) -> CampaignRecord | None:
    """Become the one sender of a campaign: a due ``scheduled`` one, or a ``creating`` one whose owner's lease
    ran out (it crashed or ran out of time). While creating, the due key points at the lease's end, so a
    stalled campaign shows up as due again by itself. Answers the claimed record, or None."""
    claimed = update(
        encode_item(campaign_key(campaign_id)),
        {
            **campaign_status_keys(CampaignStatus.CREATING),
            "owner": owner,
            "lease_until": lease_until,
            "gsi3pk": DUE_SEND,
            "gsi3sk": due_sk(lease_until, campaign_id),
        },
        condition="(#st = :scheduled AND send_at <= :now) OR (#st = :creating AND lease_until < :now)",
        names={"#st": "status"},
        values={"scheduled": CampaignStatus.SCHEDULED, "creating": CampaignStatus.CREATING, "now": now},
        returns="ALL_NEW",
    )
    return cast("CampaignRecord | None", claimed)


def renew_campaign_lease(campaign_id: str, owner: str, lease_until: int) -> bool:
    """Extend our lease before the next chunk; False when cancelled or taken over (stop sending)."""
    return (
        update(
            encode_item(campaign_key(campaign_id)),
            {"lease_until": lease_until, "gsi3sk": due_sk(lease_until, campaign_id)},
            condition="#owner = :owner AND #st = :creating",
            names={"#owner": "owner", "#st": "status"},
            values={"owner": owner, "creating": CampaignStatus.CREATING},
        )
        is not None
    )


def release_campaign_lease(campaign_id: str, owner: str, now: int) -> None:
    """Out of time or WeCom unavailable: let the next scheduled run resume at once."""
    update(
        encode_item(campaign_key(campaign_id)),
        {"lease_until": now - 1, "gsi3sk": due_sk(now - 1, campaign_id)},
        condition="#owner = :owner AND #st = :creating",
        names={"#owner": "owner", "#st": "status"},
        values={"owner": owner, "creating": CampaignStatus.CREATING},
    )


def finish_campaign_send(
    campaign_id: str, owner: str, status: str, fields: dict[str, Any], remind_at: int | None
) -> bool:
    """Leave ``creating`` (for active or failed) and index the first reminder turn; False if not ours."""
    sets = {**campaign_status_keys(status), **fields}
    removes: tuple[str, ...] = ("owner", "lease_until")
    if remind_at is None:
        removes += ("gsi3pk", "gsi3sk")
    else:
        sets |= {"next_remind_at": remind_at, "gsi3pk": DUE_REMIND, "gsi3sk": due_sk(remind_at, campaign_id)}
    return (
        update(
            encode_item(campaign_key(campaign_id)),
            sets,
            removes=removes,
            condition="#owner = :owner AND #st = :creating",
            names={"#owner": "owner", "#st": "status"},
            values={"owner": owner, "creating": CampaignStatus.CREATING},
        )
        is not None
    )


def start_chunk_call(campaign_id: str, chunk: int, fingerprint: str, first_attempt_at: int, now: int) -> bool:
    """Record the intent to call add_msg_template for a chunk *before* calling: creation time, sender and
    content fingerprint, indexed (gsi1 ``ORPHAN#{fingerprint}`` by first attempt) so that a task created by
    a call whose answer was lost can be linked back from get_groupmsg_list_v2. A later attempt keeps the
    first attempt's time: the repair window spans both. False when the chunk already has a msgid."""
    return (
        update(
            encode_item(chunk_key(campaign_id, chunk)),
            {
                "state": ChunkState.CALLING,
                "attempt_at": now,
                "first_attempt_at": first_attempt_at,
                **orphan_keys(fingerprint, first_attempt_at, campaign_id, chunk),
            },
            condition="attribute_not_exists(msgid) AND #state IN (:pending, :calling)",
            names={"#state": "state"},
            values={"pending": ChunkState.PENDING, "calling": ChunkState.CALLING},
        )
        is not None
    )


def claim_msgid(
    msgid: str, campaign_id: str, chunk: int, linked_by: str, now: int
) -> tuple[bool, dict[str, Any] | None]:
    """Register which chunk a msgid belongs to (``pk MSGID#{msgid}``): a msgid belongs to one chunk only.

    ``linked_by`` is ``call`` (WeCom's own answer: authoritative) or ``repair`` (inferred from list_v2).
    An authoritative claim may take a msgid over from a repair guess; answers (won, previous owner).
    """
    item = {
        **msgid_key(msgid),
        "msgid": msgid,
        "campaign_id": campaign_id,
        "chunk": chunk,
        "linked_by": linked_by,
        "linked_at": now,
        "task_created_at": now,
        **sync_due_keys(now, msgid),  # the result sync picks it up at its next run
    }
    condition = "attribute_not_exists(pk) OR (campaign_id = :cid AND chunk = :chunk)"
    values = {"cid": campaign_id, "chunk": chunk}
    if linked_by == "call":
        condition += " OR linked_by = :repair"
        values["repair"] = "repair"
    try:
        answer = client().put_item(
            TableName=table_name(),
            Item=encode_item(item),
            ConditionExpression=condition,
            ExpressionAttributeValues=expression_values(**values),
            ReturnValues="ALL_OLD",
        )
    except Exception as exc:
        if not is_condition_failure(exc):
            raise
        return False, None
    old = answer.get("Attributes")
    return True, (public(decode_item(old)) if old else None)


def get_msgid_owner(msgid: str) -> dict[str, Any] | None:
    """Which campaign chunk a msgid belongs to (None: not one of ours, or not linked yet)."""
    answer = client().get_item(TableName=table_name(), Key=encode_item(msgid_key(msgid)), ConsistentRead=True)
    return public(decode_item(answer["Item"])) if "Item" in answer else None


def record_chunk_sent(
    campaign_id: str, chunk: int, msgid: str, fail_count: int | None, linked_by: str, now: int
) -> bool:
    """The chunk's task exists on WeCom: store its msgid and drop it from the orphan index."""
    fields: dict[str, Any] = {
        "state": ChunkState.SENT,
        "msgid": msgid,
        "sent_at": now,
        "linked_by": linked_by,
    }
    if fail_count is not None:
        fields["fail_count"] = fail_count
    else:
        fields["fail_list_lost"] = True  # linked by repair: list_v2 does not return the fail_list
    return (
        update(
            encode_item(chunk_key(campaign_id, chunk)),
            fields,
            removes=("gsi1pk", "gsi1sk", "errcode"),
            condition="attribute_exists(pk) AND (attribute_not_exists(msgid) OR msgid = :msgid)",
            values={"msgid": msgid},
        )
        is not None
    )


def unlink_chunk(campaign_id: str, chunk: int, msgid: str) -> None:
    """Undo a repair that guessed wrong (the msgid's real chunk claimed it): back to the orphan index."""
    current = update(
        encode_item(chunk_key(campaign_id, chunk)),
        {"state": ChunkState.CALLING},
        removes=("msgid", "sent_at", "linked_by", "fail_list_lost"),
        condition="msgid = :msgid AND linked_by = :repair",
        values={"msgid": msgid, "repair": "repair"},
        returns="ALL_NEW",
    )
    if current and current.get("fingerprint"):
        update(
            encode_item(chunk_key(campaign_id, chunk)),
            orphan_keys(current["fingerprint"], current["first_attempt_at"], campaign_id, chunk),
            condition="attribute_not_exists(msgid)",
        )


def record_chunk_failed(campaign_id: str, chunk: int, errcode: int, errmsg: str) -> bool:
    """WeCom refused the chunk outright (nothing was created): out of the orphan index, never retried."""
    return (
        update(
            encode_item(chunk_key(campaign_id, chunk)),
            {"state": ChunkState.FAILED, "errcode": errcode, "errmsg": errmsg[:500]},
            removes=("gsi1pk", "gsi1sk"),
            condition="attribute_not_exists(msgid)",
        )
        is not None
    )


def unlinked_chunks(fingerprint: str, created_from: int, created_to: int) -> list[CampaignChunk]:
    """Chunk intents with this content whose first call happened in [from, to] and that have no msgid yet."""
    answer = client().query(
        TableName=table_name(),
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk AND gsi1sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues=expression_values(
            pk=orphan_pk(fingerprint), lo=orphan_sk_from(created_from), hi=due_upto(created_to)
        ),
    )
    return [cast("CampaignChunk", public(decode_item(item))) for item in answer.get("Items", [])]


# --- cancel
def mark_campaign_cancelled(campaign_id: str, now: int) -> CampaignRecord | None:
    """Any state but ``failed`` or ``completed`` → ``cancelled``, out of the due index; answers the record as
    it was before (None when the campaign does not exist, failed, completed or was cancelled already: the
    condition holds against a sync pass completing it meanwhile). Cancelling twice keeps the first time."""
    previous = update(
        encode_item(campaign_key(campaign_id)),
        {**campaign_status_keys(CampaignStatus.CANCELLED), "cancelled_at": now},
        removes=("gsi3pk", "gsi3sk", "owner", "lease_until", "next_remind_at"),
        condition="attribute_exists(pk) AND NOT #st IN (:failed, :completed, :cancelled)",
        names={"#st": "status"},
        values={
            "failed": CampaignStatus.FAILED,
            "completed": CampaignStatus.COMPLETED,
            "cancelled": CampaignStatus.CANCELLED,
        },
        returns="ALL_OLD",
    )
    return cast("CampaignRecord | None", previous)


def mark_chunk_cancelled(campaign_id: str, chunk: int, now: int) -> None:
    update(
        encode_item(chunk_key(campaign_id, chunk)), {"cancelled_at": now}, condition="attribute_exists(pk)"
    )


class CampaignRepo(Protocol):
    """What the campaign services need of the table: this module satisfies it (the wiring passes the module);
    a test may pass a stand-in, e.g. one whose write after WeCom's answer fails."""

    def put_campaign_part(
        self, campaign_id: str, kind: str, chunk: int, part: int, ids: list[str]
    ) -> None: ...
    def campaign_part_ids(self, campaign_id: str, kind: str, chunk: int) -> list[str]: ...
    def campaign_part(self, campaign_id: str, kind: str, chunk: int, part: int) -> list[str]: ...
    def delete_campaign_parts(self, campaign_id: str, sort_keys: list[str]) -> None: ...
    def create_campaign_items(
        self,
        campaign: dict[str, Any],
        chunks: list[CampaignChunk],
        idempotency: dict[str, Any] | None,
        now: int,
    ) -> bool: ...
    def get_idempotency(self, key: str) -> dict[str, Any] | None: ...
    def get_campaign(self, campaign_id: str) -> CampaignRecord | None: ...
    def campaign_view(
        self, campaign_id: str
    ) -> tuple[CampaignRecord | None, list[CampaignChunk], list[dict[str, Any]]]: ...
    def campaign_chunks(self, campaign_id: str) -> list[CampaignChunk]: ...
    def list_campaigns(self, status: str | None, *, limit: int, cursor: str | None) -> Page: ...
    def due_campaigns(self, kind: str, now: int, limit: int) -> list[CampaignRecord]: ...
    def claim_campaign_send(
        self, campaign_id: str, owner: str, now: int, lease_until: int
    ) -> CampaignRecord | None: ...
    def renew_campaign_lease(self, campaign_id: str, owner: str, lease_until: int) -> bool: ...
    def release_campaign_lease(self, campaign_id: str, owner: str, now: int) -> None: ...
    def finish_campaign_send(
        self, campaign_id: str, owner: str, status: str, fields: dict[str, Any], remind_at: int | None
    ) -> bool: ...
    def start_chunk_call(
        self, campaign_id: str, chunk: int, fingerprint: str, first_attempt_at: int, now: int
    ) -> bool: ...
    def claim_msgid(
        self, msgid: str, campaign_id: str, chunk: int, linked_by: str, now: int
    ) -> tuple[bool, dict[str, Any] | None]: ...
    def get_msgid_owner(self, msgid: str) -> dict[str, Any] | None: ...
    def record_chunk_sent(
        self, campaign_id: str, chunk: int, msgid: str, fail_count: int | None, linked_by: str, now: int
    ) -> bool: ...
    def unlink_chunk(self, campaign_id: str, chunk: int, msgid: str) -> None: ...
    def record_chunk_failed(self, campaign_id: str, chunk: int, errcode: int, errmsg: str) -> bool: ...
    def unlinked_chunks(
        self, fingerprint: str, created_from: int, created_to: int
    ) -> list[CampaignChunk]: ...
    def mark_campaign_cancelled(self, campaign_id: str, now: int) -> CampaignRecord | None: ...
    def mark_chunk_cancelled(self, campaign_id: str, chunk: int, now: int) -> None: ...
