"""All DynamoDB access, one function per access pattern (see docs/data-model.md).

Why one module: callers ask for what they need (claim a welcome, record a chunk's msgid) and never build a
request; the access patterns side by side make a missing index or a second writer visible in review. No
function here scans: every read is a GetItem or a Query on a key or an index.

The plumbing lives in ``wecom_bundle.dynamo``: the per-container client (``dynamo.client``; ``client`` and
``reset_client`` are re-exported here), the value codec, the shared request helpers (``dynamo.table``) and
every key of the single-table design (``dynamo.keys``).
"""

from __future__ import annotations

from typing import Any

from wecom_bundle.dynamo.client import client, is_condition_failure
from wecom_bundle.dynamo.client import reset_client as reset_client  # tests and callers reset through storage
from wecom_bundle.dynamo.codec import decode_item, encode, encode_item
from wecom_bundle.dynamo.keys import (
    CAMPAIGN_LIST_PK,
    CAMPAIGN_SK,
    CHUNK_PREFIX,
    DUE_REMIND,
    DUE_SEND,
    DUE_SYNC,
    EVENT_PREFIX,
    GROUP_TEMPLATE_PK,
    INTENT_PREFIX,
    MEDIA_DUE,
    MEMBER_PREFIX,
    MSGID_SK,
    SLOT_PREFIX,
    TEMPLATE_PREFIX,
    VIEW_LAST_SK,
    campaign_key,
    campaign_pk,
    campaign_status_keys,
    campaigns_by_status_pk,
    chunk_key,
    chunk_sk,
    due_sk,
    due_upto,
    group_template_intent_key,
    group_template_key,
    idempotency_key,
    media_due_sk,
    media_key,
    member_sk,
    msgid_key,
    msgid_pk,
    orphan_keys,
    orphan_pk,
    orphan_sk_from,
    part_prefix,
    part_sk,
    reminder_event_sk,
    reminder_pk,
    result_prefix,
    result_sk,
    slot_key,
    sync_due_keys,
)
from wecom_bundle.dynamo.keys import (
    campaign_list_keys as campaign_list_keys,  # campaigns and result_ingest build the record
)
from wecom_bundle.dynamo.table import (
    Page,
    batch_get,
    batch_put,
    due,
    expression_values,
    public,
    query_all,
    query_index,
    table_name,
    update,
)


# ----------------------------------------------------------------------------------------------- group welcome templates
# Layout (docs/data-model.md, "Group welcome templates"): one small partition (WeCom caps a corp at 100
# templates) holds the mirror records and the intents written before each ``add``. The intent exists because
# WeCom has no "list templates" call: without it, an add whose mirror write failed would leave a template in
# WeCom that nobody can find again.
def put_group_template_intent(intent: dict[str, Any]) -> None:
    """Record an ``add`` about to be sent to WeCom (its content, time; no template id yet)."""
    item = {**group_template_intent_key(intent["intent_id"]), **intent}
    client().put_item(
        TableName=table_name(), Item=encode_item(item), ConditionExpression="attribute_not_exists(pk)"
    )


def record_group_template_added(intent_id: str, template: dict[str, Any]) -> None:
    """The mirror record of a template WeCom created, and the end of its intent, in one transaction."""
    record = {**group_template_key(template["template_id"]), **template}
    client().transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table_name(), "Item": encode_item(record)}},
            {"Delete": {"TableName": table_name(), "Key": encode_item(group_template_intent_key(intent_id))}},
        ]
    )


def note_group_template_intent_id(intent_id: str, template_id: str) -> None:
    """Keep WeCom's answer on the intent when the mirror record could not be written (reconcile reads it)."""
    update(
        encode_item(group_template_intent_key(intent_id)),
        {"template_id": template_id},
        condition="attribute_exists(pk)",
    )


def delete_group_template_intent(intent_id: str) -> None:
    client().delete_item(TableName=table_name(), Key=encode_item(group_template_intent_key(intent_id)))


def group_template_intents() -> list[dict[str, Any]]:
    """Every intent still open: adds in flight, or adds whose outcome the mirror does not hold."""
    return query_all(GROUP_TEMPLATE_PK, INTENT_PREFIX)


def put_group_template(template: dict[str, Any]) -> None:
    """Create or replace a mirror record (after a WeCom edit, or a repair by reconcile)."""
    item = {**group_template_key(template["template_id"]), **template}
    client().put_item(TableName=table_name(), Item=encode_item(item))


def get_group_template(template_id: str) -> dict[str, Any] | None:
    answer = client().get_item(
        TableName=table_name(), Key=encode_item(group_template_key(template_id)), ConsistentRead=True
    )
    return public(decode_item(answer["Item"])) if "Item" in answer else None


def list_group_templates() -> list[dict[str, Any]]:
    """Every mirrored template (at most 100 per corp: one Query of the partition, no paging for callers)."""
    return query_all(GROUP_TEMPLATE_PK, TEMPLATE_PREFIX)


def note_group_template_media(
    template_id: str, wecom_media: dict[str, Any], seen_updated_at_ms: int | None, now_ms: int
) -> bool:
    """After the media refresh re-pointed a template in WeCom: record the ids WeCom now holds, unless an
    operator's edit changed the record since it was read (answers False: the caller edits WeCom again)."""
    seen = {"seen": seen_updated_at_ms} if seen_updated_at_ms is not None else {}
    answer = update(
        encode_item(group_template_key(template_id)),
        {"wecom_media": wecom_media, "media_refreshed_at_ms": now_ms},
        removes=("media_refresh_error",),
        condition="attribute_exists(pk) AND "
        + ("updated_at_ms = :seen" if seen else "attribute_not_exists(updated_at_ms)"),
        values=seen,
        returns="UPDATED_NEW",
    )
    return answer is not None


def note_group_template_media_error(template_id: str, error: dict[str, Any]) -> None:
    """Why the media refresh could not re-point a template (another app's: 48002; gone in WeCom: 40037)."""
    update(
        encode_item(group_template_key(template_id)),
        {"media_refresh_error": error},
        condition="attribute_exists(pk)",
    )


def delete_group_template(template_id: str) -> bool:
    """Remove a mirror record; answer whether it existed."""
    answer = client().delete_item(
        TableName=table_name(), Key=encode_item(group_template_key(template_id)), ReturnValues="ALL_OLD"
    )
    return "Attributes" in answer


# ----------------------------------------------------------------------------------------------- campaigns
# Layout (docs/data-model.md, "Campaigns"): one partition per campaign holds the campaign record, its chunk
# intents, audience / fail-list parts (<= 5 000 ids per item: items are capped at 400 KB) and reminder
# events. Sort keys are chosen so that one Query of "CAMPAIGN".."EVENT#~" reads everything an operator
# sees without the (large) PART# items.
def put_campaign_part(campaign_id: str, kind: str, chunk: int, part: int, ids: list[str]) -> None:
    """Store up to 5 000 ids (audience or fail_list). Plain PutItem: rewriting the same part is harmless."""
    item = {"pk": campaign_pk(campaign_id), "sk": part_sk(kind, chunk, part), "ids": ids}
    client().put_item(TableName=table_name(), Item=encode_item(item))


def campaign_part_ids(campaign_id: str, kind: str, chunk: int) -> list[str]:
    """Every id of one chunk's audience (AUD) or fail_list (FAIL), in part order."""
    parts = query_all(campaign_pk(campaign_id), part_prefix(kind, chunk))  # in sort-key (part) order
    return [i for part in parts for i in part.get("ids", [])]


def delete_campaign_parts(campaign_id: str, sort_keys: list[str]) -> None:
    """Remove parts written for a campaign that was never created (lost an idempotency race)."""
    for sort_key in sort_keys:
        client().delete_item(
            TableName=table_name(), Key=encode_item({"pk": campaign_pk(campaign_id), "sk": sort_key})
        )


def create_campaign_items(
    campaign: dict[str, Any], chunks: list[dict[str, Any]], idempotency: dict[str, Any] | None, now: int
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
    try:
        client().transact_write_items(TransactItems=items)
        return True
    except Exception as exc:
        reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
        if idempotency is not None and reasons and reasons[-1].get("Code") == "ConditionalCheckFailed":
            return False
        raise


def get_idempotency(key: str) -> dict[str, Any] | None:
    answer = client().get_item(
        TableName=table_name(),
        Key=encode_item(idempotency_key(key)),
        ConsistentRead=True,
    )
    return public(decode_item(answer["Item"])) if "Item" in answer else None


def get_campaign(campaign_id: str) -> dict[str, Any] | None:
    answer = client().get_item(
        TableName=table_name(), Key=encode_item(campaign_key(campaign_id)), ConsistentRead=True
    )
    return public(decode_item(answer["Item"])) if "Item" in answer else None


def campaign_view(
    campaign_id: str,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
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
    campaign = next((public(r) for r in rows if r["sk"] == CAMPAIGN_SK), None)
    chunks = [public(r) for r in rows if r["sk"].startswith(CHUNK_PREFIX)]
    events = [public(r) for r in rows if r["sk"].startswith(EVENT_PREFIX)]
    return campaign, chunks, events


def campaign_chunks(campaign_id: str) -> list[dict[str, Any]]:
    """A campaign's chunk intents in chunk order (at most one per 10 000 recipients)."""
    return sorted(query_all(campaign_pk(campaign_id), CHUNK_PREFIX), key=lambda c: c["chunk"])


def list_campaigns(status: str | None, *, limit: int, cursor: str | None) -> Page:
    """Campaigns newest first: all of them (gsi1) or one status (gsi2)."""
    if status is None:
        return query_index("gsi1", CAMPAIGN_LIST_PK, limit=limit, cursor=cursor)
    return query_index("gsi2", campaigns_by_status_pk(status), limit=limit, cursor=cursor)


def due_campaigns(kind: str, now: int, limit: int) -> list[dict[str, Any]]:
    """Campaigns whose send (DUE#SEND) or reminder turn (DUE#REMIND) is due, oldest first (gsi3)."""
    return due("gsi3", kind, now, limit)


# --- sending: the claim (lease) on a campaign and the intent / outcome of each chunk
def claim_campaign_send(campaign_id: str, owner: str, now: int, lease_until: int) -> dict[str, Any] | None:
    """Become the one sender of a campaign: a due ``scheduled`` one, or a ``creating`` one whose owner's lease
    ran out (it crashed or ran out of time). While creating, the due key points at the lease's end, so a
    stalled campaign shows up as due again by itself. Answers the claimed record, or None."""
    return update(
        encode_item(campaign_key(campaign_id)),
        {
            **campaign_status_keys("creating"),
            "owner": owner,
            "lease_until": lease_until,
            "gsi3pk": DUE_SEND,
            "gsi3sk": due_sk(lease_until, campaign_id),
        },
        condition="(#st = :scheduled AND send_at <= :now) OR (#st = :creating AND lease_until < :now)",
        names={"#st": "status"},
        values={"scheduled": "scheduled", "creating": "creating", "now": now},
        returns="ALL_NEW",
    )


def renew_campaign_lease(campaign_id: str, owner: str, lease_until: int) -> bool:
    """Extend our lease before the next chunk; False when cancelled or taken over (stop sending)."""
    return (
        update(
            encode_item(campaign_key(campaign_id)),
            {"lease_until": lease_until, "gsi3sk": due_sk(lease_until, campaign_id)},
            condition="#owner = :owner AND #st = :creating",
            names={"#owner": "owner", "#st": "status"},
            values={"owner": owner, "creating": "creating"},
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
        values={"owner": owner, "creating": "creating"},
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
            values={"owner": owner, "creating": "creating"},
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
                "state": "calling",
                "attempt_at": now,
                "first_attempt_at": first_attempt_at,
                **orphan_keys(fingerprint, first_attempt_at, campaign_id, chunk),
            },
            condition="attribute_not_exists(msgid) AND #state IN (:pending, :calling)",
            names={"#state": "state"},
            values={"pending": "pending", "calling": "calling"},
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
    fields: dict[str, Any] = {"state": "sent", "msgid": msgid, "sent_at": now, "linked_by": linked_by}
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
        {"state": "calling"},
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
            {"state": "failed", "errcode": errcode, "errmsg": errmsg[:500]},
            removes=("gsi1pk", "gsi1sk"),
            condition="attribute_not_exists(msgid)",
        )
        is not None
    )


def unlinked_chunks(fingerprint: str, created_from: int, created_to: int) -> list[dict[str, Any]]:
    """Chunk intents with this content whose first call happened in [from, to] and that have no msgid yet."""
    answer = client().query(
        TableName=table_name(),
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk AND gsi1sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues=expression_values(
            pk=orphan_pk(fingerprint), lo=orphan_sk_from(created_from), hi=due_upto(created_to)
        ),
    )
    return [public(decode_item(item)) for item in answer.get("Items", [])]


# ----------------------------------------------------------------------------------------------- result sync
# Layout (docs/data-model.md, "Result sync"): the msgid registry item (``MSGID#{msgid}`` / ``MSGID``) is
# also the msgid's sync schedule (gsi3 ``DUE#SYNC`` by next sync time, present only while syncs are due);
# the msgid's partition holds one item per member (``MEMBER#{userid}``) and one per customer or group chat
# (``R#{userid}#{target}``). Aggregates sit on the campaign's chunk item (per msgid) and the campaign record.
def due_sync_msgids(
    now: int, limit: int, start: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Msgid items whose sync is due (gsi3 ``DUE#SYNC``, ``gsi3sk <= now``), oldest first; a page at a time
    (``start`` is the previous page's last ``gsi3sk``). The raw due key comes back as ``due_sk``."""
    request: dict[str, Any] = {
        "TableName": table_name(),
        "IndexName": "gsi3",
        "KeyConditionExpression": "gsi3pk = :pk AND gsi3sk BETWEEN :from AND :upto",
        "ExpressionAttributeValues": expression_values(
            pk=DUE_SYNC, upto=due_upto(now), **{"from": start or "0"}
        ),
        "ScanIndexForward": True,
        "Limit": limit,
    }
    answer = client().query(**request)
    rows = [decode_item(item) for item in answer.get("Items", [])]
    items = [{**public(row), "due_sk": row["gsi3sk"]} for row in rows if row["gsi3sk"] != start]
    more = "LastEvaluatedKey" in answer and rows
    return items, (rows[-1]["gsi3sk"] if more else None)


def claim_msgid_sync(msgid: str, seen_due_sk: str, token: str, lease_until: int) -> bool:
    """Take a due msgid for one sync pass: the due key moves to the lease's end (so the next scheduled run
    does not queue it again while a worker holds it) and ``sync_token`` names the pass. False when another
    run took it first (its due key changed)."""
    return (
        update(
            encode_item(msgid_key(msgid)),
            {"sync_token": token, **sync_due_keys(lease_until, msgid)},
            condition="gsi3sk = :seen",
            values={"seen": seen_due_sk},
        )
        is not None
    )


def renew_msgid_sync(msgid: str, token: str, lease_until: int, checkpoint: dict[str, Any]) -> bool:
    """Save a pass's checkpoint (cursor, phase) and extend its lease; False when the pass is no longer ours."""
    return (
        update(
            encode_item(msgid_key(msgid)),
            {**checkpoint, **sync_due_keys(lease_until, msgid)},
            condition="sync_token = :token",
            values={"token": token},
        )
        is not None
    )


def finish_msgid_sync(
    msgid: str, token: str, next_sync_at: int | None, fields: dict[str, Any], now: int
) -> bool:
    """End a pass: record when, clear the checkpoint, and either schedule the next sync or leave the due
    index for good (``next_sync_at`` None: final, aged out, or refused by WeCom)."""
    sets = {**fields, "last_synced_at": now}
    removes: tuple[str, ...] = ("sync_token", "task_cursor", "sync_phase")
    if next_sync_at is None:
        removes += ("gsi3pk", "gsi3sk", "next_sync_at")
    else:
        sets |= sync_due_keys(next_sync_at, msgid)
    return (
        update(
            encode_item(msgid_key(msgid)),
            sets,
            removes=removes,
            condition="sync_token = :token",
            values={"token": token},
        )
        is not None
    )


def mark_msgid_sync_due(msgid: str, at: int) -> bool:
    """Sync this msgid at the next scheduled run (after a reminder): only while its syncs are still due,
    and never later than it already was."""
    return (
        update(
            encode_item(msgid_key(msgid)),
            sync_due_keys(at, msgid),
            condition="gsi3pk = :due AND next_sync_at > :at AND attribute_not_exists(sync_token)",
            values={"due": DUE_SYNC, "at": int(at)},
        )
        is not None
    )


def msgid_items(msgids: list[str]) -> dict[str, dict[str, Any]]:
    """Msgid registry items by msgid (BatchGetItem, 100 keys a call); unknown msgids are absent."""
    unique = list(dict.fromkeys(msgids))
    rows = [public(item) for item in batch_get([encode_item(msgid_key(m)) for m in unique])]
    return {row["msgid"]: row for row in rows}


def sync_members(msgid: str) -> list[dict[str, Any]]:
    """Every member item of a msgid (one per member of the task: hundreds at most)."""
    return query_all(msgid_pk(msgid), MEMBER_PREFIX)


def put_sync_member(msgid: str, member: dict[str, Any]) -> None:
    """Create or replace one member item (status, send_time, result counts, checkpoint)."""
    item = {"pk": msgid_pk(msgid), "sk": member_sk(member["userid"]), "msgid": msgid, **member}
    client().put_item(TableName=table_name(), Item=encode_item(item))


def member_results(msgid: str, userid: str) -> list[dict[str, Any]]:
    """The stored result rows of one member of a msgid (what the next diff compares against)."""
    return query_all(msgid_pk(msgid), result_prefix(userid))


def write_results(msgid: str, rows: list[dict[str, Any]]) -> None:
    """Store result rows (new or changed only: the caller diffs), 25 per BatchWriteItem; unprocessed items
    (throttling) are retried with backoff until written, so nothing is silently dropped."""
    items = []
    for row in rows:
        target = row.get("external_userid") or row["chat_id"]  # a customer, or a group chat
        items.append({"pk": msgid_pk(msgid), "sk": result_sk(row["userid"], target), **row})
    batch_put(items)


def record_chunk_totals(campaign_id: str, chunk: int, fields: dict[str, Any]) -> None:
    """Per-msgid aggregates on its chunk item (totals, members_unsent, first/last send time, rates)."""
    update(encode_item(chunk_key(campaign_id, chunk)), fields, condition="attribute_exists(pk)")


def record_campaign_totals(campaign_id: str, totals: dict[str, Any], now: int, complete: bool) -> bool:
    """The campaign's totals (sum of its msgids); ``complete`` also moves an ``active`` campaign to
    ``completed``. Answers whether the campaign became completed now."""
    sets: dict[str, Any] = {"totals": totals, "totals_synced_at": now}
    if not complete:
        update(encode_item(campaign_key(campaign_id)), sets, condition="attribute_exists(pk)")
        return False
    done = update(
        encode_item(campaign_key(campaign_id)),
        {**sets, **campaign_status_keys("completed"), "completed_at": now},
        condition="#st = :active",
        names={"#st": "status"},
        values={"active": "active"},
    )
    if done is None:
        update(encode_item(campaign_key(campaign_id)), sets, condition="attribute_exists(pk)")
    return done is not None


def ingest_external_task(campaign: dict[str, Any], chunk: dict[str, Any], registry: dict[str, Any]) -> bool:
    """Store a task created outside the product (admin console, a member) as a campaign of one chunk, with
    its msgid registered and due for sync, atomically. False when another run ingested it first."""
    pk = campaign_pk(campaign["campaign_id"])
    puts = [
        {"pk": pk, "sk": CAMPAIGN_SK, **campaign},
        {"pk": pk, "sk": chunk_sk(chunk["chunk"]), **chunk},
        {"pk": msgid_pk(registry["msgid"]), "sk": MSGID_SK, **registry},
    ]
    items = [
        {
            "Put": {
                "TableName": table_name(),
                "Item": encode_item(p),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for p in puts
    ]
    try:
        client().transact_write_items(TransactItems=items)
    except Exception as exc:
        if not is_condition_failure(exc):
            raise
        return False
    return True


def query_results(
    msgid: str, *, userid: str | None, status: int | None, limit: int, start: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of a msgid's result rows (admin reads), optionally of one member (key prefix) and one
    status (a filter: admin only). Answers (rows, LastEvaluatedKey as a plain dict or None)."""
    request: dict[str, Any] = {
        "TableName": table_name(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": expression_values(pk=msgid_pk(msgid), prefix=result_prefix(userid)),
        "Limit": limit,
    }
    if status is not None:
        request["FilterExpression"] = "#st = :st"
        request["ExpressionAttributeNames"] = {"#st": "status"}
        request["ExpressionAttributeValues"][":st"] = encode(status)
    if start:
        request["ExclusiveStartKey"] = encode_item(start)
    answer = client().query(**request)
    rows = [public(decode_item(item)) for item in answer.get("Items", [])]
    last = answer.get("LastEvaluatedKey")
    return rows, (decode_item(last) if last else None)


# --- cancel
def mark_campaign_cancelled(campaign_id: str, now: int) -> dict[str, Any] | None:
    """Any state but ``failed`` → ``cancelled``, out of the due index; answers the record as it was before
    (None when the campaign does not exist or failed). Idempotent: cancelling twice keeps the first time."""
    return update(
        encode_item(campaign_key(campaign_id)),
        {**campaign_status_keys("cancelled"), "cancelled_at": now},
        removes=("gsi3pk", "gsi3sk", "owner", "lease_until", "next_remind_at"),
        condition="attribute_exists(pk) AND #st <> :failed AND #st <> :cancelled",
        names={"#st": "status"},
        values={"failed": "failed", "cancelled": "cancelled"},
        returns="ALL_OLD",
    )


def mark_chunk_cancelled(campaign_id: str, chunk: int, now: int) -> None:
    update(
        encode_item(chunk_key(campaign_id, chunk)), {"cancelled_at": now}, condition="attribute_exists(pk)"
    )


# --- reminders: the campaign's turn, the per-msgid ledger, the events operators see
def claim_reminder_turn(campaign_id: str, expected_at: int, next_at: int | None) -> bool:
    """Take this reminder turn (one scheduled run per turn): move the due key to the next turn, or out of
    the index when the policy has no next turn. False when another run already took it."""
    sets: dict[str, Any] = {"last_remind_turn_at": expected_at}
    removes: tuple[str, ...] = ()
    if next_at is None:
        removes = ("gsi3pk", "gsi3sk", "next_remind_at")
    else:
        sets |= {"next_remind_at": next_at, "gsi3sk": due_sk(next_at, campaign_id)}
    return (
        update(
            encode_item(campaign_key(campaign_id)),
            sets,
            removes=removes,
            condition="next_remind_at = :expected AND gsi3pk = :due",
            values={"expected": expected_at, "due": DUE_REMIND},
        )
        is not None
    )


def stop_campaign_reminders(campaign_id: str, reason: str) -> None:
    """No more scheduled reminders (past stop_after, completed, nothing unsent): leave the due index."""
    update(
        encode_item(campaign_key(campaign_id)),
        {"reminders_stopped": reason},
        removes=("gsi3pk", "gsi3sk", "next_remind_at"),
        condition="gsi3pk = :due",
        values={"due": DUE_REMIND},
    )


def reminder_slots(msgid: str) -> dict[int, dict[str, Any]]:
    """The msgid's reminder ledger: slot number → {at_ms, owner, trigger} (missing slots are empty)."""
    rows = query_all(reminder_pk(msgid), SLOT_PREFIX)
    return {int(row["slot"]): row for row in rows}


def claim_reminder_slot(
    msgid: str, slot: int, now_ms: int, owner: str, fields: dict[str, Any]
) -> dict[str, Any] | None:
    """Claim one of the msgid's slots if it is empty or its reminder is older than 24 h (conditional write:
    two claimers of one slot cannot both win). Answers the slot's previous values ({} when it was empty),
    or None when refused. ``expires_at`` lets TTL drop the ledger once it no longer constrains anything."""
    from wecom_bundle.reminder_policy import WINDOW_MS

    return update(
        encode_item(slot_key(msgid, slot)),
        {
            **fields,
            "msgid": msgid,
            "slot": slot,
            "at_ms": now_ms,
            "owner": owner,
            "expires_at": (now_ms + 2 * WINDOW_MS) // 1000,
        },
        condition="attribute_not_exists(at_ms) OR at_ms <= :cutoff",
        values={"cutoff": now_ms - WINDOW_MS},
        returns="UPDATED_OLD",
    )


def release_reminder_slot(msgid: str, slot: int, owner: str, previous_at_ms: int | None) -> None:
    """Give a slot back after WeCom definitely did not remind (restores the previous reminder's time)."""
    sets: dict[str, Any] = {"owner": f"released:{owner}"}
    removes: tuple[str, ...] = ()
    if previous_at_ms is None:
        removes = ("at_ms",)
    else:
        sets["at_ms"] = previous_at_ms
    update(
        encode_item(slot_key(msgid, slot)),
        sets,
        removes=removes,
        condition="#owner = :owner",
        names={"#owner": "owner"},
        values={"owner": owner},
    )


def put_reminder_event(campaign_id: str, msgid: str, at_ms: int, trigger: str, outcome: str) -> None:
    """One line of the campaign's reminder history (shown by GET /admin/campaigns/{id})."""
    item = {
        "pk": campaign_pk(campaign_id),
        "sk": reminder_event_sk(at_ms, msgid),
        "kind": "reminder",
        "msgid": msgid,
        "at": at_ms // 1000,
        "at_ms": at_ms,
        "trigger": trigger,
        "outcome": outcome,
    }
    client().put_item(TableName=table_name(), Item=encode_item(item))


# ----------------------------------------------------------------------------------------------- media cache
# One item per (WeCom media kind, bucket, key): the WeCom id the object was last uploaded as, when, and the
# object's ETag then. Temporary media (image/video/file) sit in the due index (gsi1 ``MEDIA#DUE``, sorted by
# the time they should be refreshed); permanent image URLs (kind ``imgurl``) never do.
def get_media(kind: str, bucket: str, key: str) -> dict[str, Any] | None:
    """The cached WeCom id of one object (hot path: one GetItem when the container's copy is not fresh)."""
    answer = client().get_item(
        TableName=table_name(), Key=encode_item(media_key(kind, bucket, key)), ConsistentRead=True
    )
    return public(decode_item(answer["Item"])) if "Item" in answer else None


def claim_media_upload(
    kind: str, bucket: str, key: str, owner: str, now: int, lease_until: int, stale_before: int
) -> bool:
    """Become the one uploader of an object (like the token lease): refused while another holds an unexpired
    lease, and when the cached id was created at or after ``stale_before`` (someone refreshed meanwhile)."""
    return (
        update(
            encode_item(media_key(kind, bucket, key)),
            {"lease_owner": owner, "lease_until": lease_until},
            condition="(attribute_not_exists(lease_until) OR lease_until < :now)"
            " AND (attribute_not_exists(created_at) OR created_at < :stale)",
            values={"now": now, "stale": stale_before},
        )
        is not None
    )


def store_media(kind: str, bucket: str, key: str, fields: dict[str, Any]) -> bool:
    """Publish a fresh upload (``fields`` has media_id, created_at, etag, index keys) and drop any lease;
    never overwrites a newer upload. False when a newer one is already stored."""
    return (
        update(
            encode_item(media_key(kind, bucket, key)),
            fields,
            removes=("lease_owner", "lease_until"),
            condition="attribute_not_exists(created_at) OR created_at <= :created",
            values={"created": fields["created_at"]},
        )
        is not None
    )


def release_media_lease(kind: str, bucket: str, key: str, owner: str) -> None:
    """Give the upload lease back after a failed upload so the next caller may try at once."""
    update(
        encode_item(media_key(kind, bucket, key)),
        {},
        removes=("lease_owner", "lease_until"),
        condition="lease_owner = :owner",
        values={"owner": owner},
    )


def expire_media(kind: str, bucket: str, key: str, media_id: str) -> None:
    """WeCom rejected this id (40007): mark it stale and due now, unless it was already replaced."""
    update(
        encode_item(media_key(kind, bucket, key)),
        {"created_at": 0, "gsi1sk": media_due_sk(0, kind, bucket, key)},
        condition="media_id = :mid",
        values={"mid": media_id},
    )


def due_media(upto: int, limit: int) -> list[dict[str, Any]]:
    """Cached temporary media whose refresh time is at or before ``upto``, oldest first (gsi1 MEDIA#DUE)."""
    return due("gsi1", MEDIA_DUE, upto, limit)


def unindex_media(kind: str, bucket: str, key: str) -> None:
    """No content references the object any more: stop refreshing it (TTL removes the item later)."""
    update(
        encode_item(media_key(kind, bucket, key)),
        {},
        removes=("gsi1pk", "gsi1sk"),
        condition="attribute_exists(pk)",
    )
