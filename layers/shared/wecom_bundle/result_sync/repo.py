"""The result sync's DynamoDB access patterns, one function each (docs/data-model.md, "Result sync").

Why here: the sync services (fanout, ingest, sync_pass) and the operators' reads (campaigns.results) ask for
what they need and never build a request; every read is a GetItem, a BatchGetItem or a Query, never a Scan.
"""

from __future__ import annotations

from typing import Any, Protocol

from wecom_bundle.campaigns.status import CampaignStatus
from wecom_bundle.dynamo.client import client
from wecom_bundle.dynamo.codec import decode_item, encode, encode_item
from wecom_bundle.dynamo.keys import (
    CAMPAIGN_SK,
    DUE_SYNC,
    MEMBER_PREFIX,
    MSGID_SK,
    campaign_key,
    campaign_pk,
    campaign_status_keys,
    chunk_key,
    chunk_sk,
    customer_message_keys,
    due_upto,
    member_sk,
    msgid_key,
    msgid_pk,
    result_prefix,
    result_sk,
    sync_due_keys,
)
from wecom_bundle.dynamo.table import (
    batch_get,
    batch_put,
    expression_values,
    public,
    query_all,
    table_name,
    transact,
    update,
)


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
    (throttling) are retried with backoff until written, so nothing is silently dropped. A customer's row
    is also listed under its customer (gsi2 ``CUSTMSG#…``, by send time, else its task's creation)."""
    items = []
    for row in rows:
        target = row.get("external_userid") or row["chat_id"]  # a customer, or a group chat
        item = {"pk": msgid_pk(msgid), "sk": result_sk(row["userid"], target), **row}
        if row.get("external_userid") and row.get("task_at"):  # listed under its customer, newest first
            at = int(row.get("send_time") or row["task_at"])
            item |= customer_message_keys(target, at, msgid, row["userid"])
        items.append(item)
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
        {**sets, **campaign_status_keys(CampaignStatus.COMPLETED), "completed_at": now},
        condition="#st = :active",
        names={"#st": "status"},
        values={"active": CampaignStatus.ACTIVE},
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
    return transact(items)


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


class SyncRepo(Protocol):
    """What the result sync and the campaigns' result reads need of the table: this module satisfies it
    (the wiring passes the module); a test may pass a stand-in, e.g. one whose writes fail."""

    def due_sync_msgids(
        self, now: int, limit: int, start: str | None = ...
    ) -> tuple[list[dict[str, Any]], str | None]: ...
    def claim_msgid_sync(self, msgid: str, seen_due_sk: str, token: str, lease_until: int) -> bool: ...
    def renew_msgid_sync(
        self, msgid: str, token: str, lease_until: int, checkpoint: dict[str, Any]
    ) -> bool: ...
    def finish_msgid_sync(
        self, msgid: str, token: str, next_sync_at: int | None, fields: dict[str, Any], now: int
    ) -> bool: ...
    def mark_msgid_sync_due(self, msgid: str, at: int) -> bool: ...
    def msgid_items(self, msgids: list[str]) -> dict[str, dict[str, Any]]: ...
    def sync_members(self, msgid: str) -> list[dict[str, Any]]: ...
    def put_sync_member(self, msgid: str, member: dict[str, Any]) -> None: ...
    def member_results(self, msgid: str, userid: str) -> list[dict[str, Any]]: ...
    def write_results(self, msgid: str, rows: list[dict[str, Any]]) -> None: ...
    def record_chunk_totals(self, campaign_id: str, chunk: int, fields: dict[str, Any]) -> None: ...
    def record_campaign_totals(
        self, campaign_id: str, totals: dict[str, Any], now: int, complete: bool
    ) -> bool: ...
    def ingest_external_task(
        self, campaign: dict[str, Any], chunk: dict[str, Any], registry: dict[str, Any]
    ) -> bool: ...
    def query_results(
        self, msgid: str, *, userid: str | None, status: int | None, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]: ...
