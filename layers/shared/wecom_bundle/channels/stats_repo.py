"""Arrival markers and channel day counters in DynamoDB: one function per access pattern (see
docs/data-model.md, "Channel arrivals and counters").

Why transactions: a counter must move exactly once per event, however often WeCom retries it and however
many containers receive it at once. Each counting step is one TransactWriteItems of two writes: a
conditional write on the arrival marker (the step's claim: the marker is the event's, the step not yet
done) and an ``ADD`` on the day's counter shard. Both happen or neither does, so no crash between them can
count twice or lose a count. Concurrent transactions on one counter item conflict; ``dynamo.table.transact``
retries those briefly with jittered back-off (shards keep that rare). No function here scans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wecom_bundle.dynamo.client import client
from wecom_bundle.dynamo.codec import decode_item, encode, encode_item
from wecom_bundle.dynamo.keys import (
    arrival_key,
    channel_stats_key,
    channel_stats_pk,
    channel_stats_range,
)
from wecom_bundle.dynamo.table import public, query_range, table_name, transact


class CounterShard:
    """Where a step's counts go: the channel, the day (``YYYY-MM-DD``), the shard, the item's TTL."""

    def __init__(self, channel_id: str, day: str, shard: int, expires_at: int) -> None:
        self.channel_id, self.day, self.shard, self.expires_at = channel_id, day, shard, expires_at


def _counter_update(where: CounterShard, counts: Mapping[str, int]) -> dict[str, Any]:
    adds = {name: n for name, n in counts.items() if n}
    names = {f"#c{i}": name for i, name in enumerate(adds)} | {"#day": "day"}
    values = {f":c{i}": encode(n) for i, n in enumerate(adds.values())}
    values |= {":cid": encode(where.channel_id), ":day": encode(where.day), ":exp": encode(where.expires_at)}
    expression = "SET channel_id = :cid, #day = :day, expires_at = :exp"
    if adds:
        expression += " ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(adds)))
    return {
        "Update": {
            "TableName": table_name(),
            "Key": encode_item(channel_stats_key(where.channel_id, where.day, where.shard)),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def _marker_update(
    external_userid: str, userid: str, expression: str, condition: str, values: Mapping[str, Any]
) -> dict[str, Any]:
    """A conditional update of the pair's arrival marker, as one write of a transaction."""
    return {
        "Update": {
            "TableName": table_name(),
            "Key": encode_item(arrival_key(external_userid, userid)),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {f":{name}": encode(value) for name, value in values.items()},
        }
    }


# ----------------------------------------------------------------------------------------------- arrivals
def record_arrival(marker: Mapping[str, Any], where: CounterShard, counts: Mapping[str, int]) -> bool:
    """Write the arrival marker of one add-contact event and count it (``added``, and ``welcomed`` when the
    welcome went out), atomically. Refused (False) when the marker already holds this event or a later one:
    a retried or concurrent delivery of the same event counts nothing more."""
    item = {**arrival_key(marker["external_userid"], marker["userid"]), **marker}
    put = {
        "Put": {
            "TableName": table_name(),
            "Item": encode_item(item),
            "ConditionExpression": "attribute_not_exists(pk) OR create_time < :ct",
            "ExpressionAttributeValues": {":ct": encode(marker["create_time"])},
        }
    }
    return transact([put, _counter_update(where, counts)])


def record_tagging(
    external_userid: str,
    userid: str,
    create_time: int,
    outcome: str,
    errcode: int | None,
    where: CounterShard,
) -> bool:
    """Settle the arrival's tagging (``tagged`` or ``tag_failed``) and count it, once: the marker must still
    be this event's and its tagging ``pending``."""
    update = _marker_update(
        external_userid,
        userid,
        "SET tag_state = :outcome, tag_errcode = :errcode",
        "create_time = :ct AND tag_state = :pending",
        {"outcome": outcome, "errcode": errcode, "ct": create_time, "pending": "pending"},
    )
    return transact([update, _counter_update(where, {outcome: 1})])


def get_arrival(external_userid: str, userid: str) -> dict[str, Any] | None:
    """The marker of the pair's latest arrival through a channel (consistent: a loss right after the add)."""
    answer = client().get_item(
        TableName=table_name(), Key=encode_item(arrival_key(external_userid, userid)), ConsistentRead=True
    )
    return public(decode_item(answer["Item"])) if "Item" in answer else None


def record_loss(
    external_userid: str,
    userid: str,
    create_time: int,
    loss: Mapping[str, Any],
    where: CounterShard,
) -> bool:
    """Mark the arrival lost (``loss``: ``lost_at``, ``lost_by``) and count it on the day of the loss, once per
    arrival: both loss callbacks of one pair, and WeCom's retries of either, count one."""
    update = _marker_update(
        external_userid,
        userid,
        "SET lost_at = :at, lost_by = :by",
        "create_time = :ct AND attribute_not_exists(lost_at)",
        {"at": loss["lost_at"], "by": loss["lost_by"], "ct": create_time},
    )
    return transact([update, _counter_update(where, {"lost": 1})])


# ----------------------------------------------------------------------------------------------- reading
def query_stats(channel_id: str, first_day: str, last_day: str) -> list[dict[str, Any]]:
    """Every counter shard of the channel's days ``first_day``..``last_day``: one Query (30 days x 8 shards
    of small items fit one page; pages are followed anyway)."""
    low, high = channel_stats_range(first_day, last_day)
    return query_range(channel_stats_pk(channel_id), low, high)
