"""Table-level helpers every access pattern shares: the conditional update, whole-partition and GSI page
queries, due-index reads, batched reads and writes, and the admin API's opaque page cursors.

Why apart from the domains' ``repo`` modules: these know DynamoDB's request shapes, not the product; each
repo keeps one function per access pattern and reads like the access patterns themselves. No helper here scans.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from wecom_bundle import config
from wecom_bundle.dynamo.client import client, is_condition_failure
from wecom_bundle.dynamo.codec import decode_item, encode, encode_item
from wecom_bundle.dynamo.keys import KEY_ATTRIBUTES, due_upto

T = TypeVar("T")
BATCH_WRITE_MAX = 25  # DynamoDB's BatchWriteItem limit
BATCH_GET_MAX = 100  # DynamoDB's BatchGetItem limit
BATCH_GET_ATTEMPTS = 10  # with back-off capped at 2 s: a throttled read gives up after ~10 s


def table_name() -> str:
    return config.table_name()


def after_call(write: Callable[[], T], what: str, log: logging.Logger) -> tuple[bool, T | None]:
    """Run a write that follows a WeCom change: (True, its result), or (False, None) after logging the fault's
    type, so a DynamoDB fault never hides that WeCom already changed (the caller reports and repairs it)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return True, write()
    except (ClientError, BotoCoreError) as exc:
        log.error("%s write failed: %s", what, type(exc).__name__)
        return False, None


TRANSACT_ATTEMPTS = 6
TRANSACT_BACKOFF_S = 0.02
_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def transact(writes: list[dict[str, Any]], sleep: Callable[[float], None] = time.sleep) -> bool:
    """Run the writes as one TransactWriteItems; False when one of their conditions refused it (the step was
    done already, or another writer won). Why retried here: a transaction conflicting with another in flight
    on the same items, or throttled, is cancelled although nothing is wrong with it; it is tried again with
    jittered back-off, a few times, then raised like every other fault."""
    backoff = TRANSACT_BACKOFF_S
    for attempt in range(TRANSACT_ATTEMPTS):
        try:
            client().transact_write_items(TransactItems=writes)
            return True
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            reasons = _cancellation_reasons(exc)
            if code == "TransactionCanceledException" and "ConditionalCheckFailed" in reasons:
                return False
            transient = code == "TransactionConflictException" or any(
                r in _TRANSIENT_REASONS for r in reasons
            )
            if not transient or attempt == TRANSACT_ATTEMPTS - 1:
                raise
        sleep(backoff * (0.5 + random.random()))  # noqa: S311 - jitter only
        backoff *= 2
    raise AssertionError("unreachable")


def _cancellation_reasons(exc: Exception) -> list[str]:
    response = getattr(exc, "response", {}) or {}
    return [str(reason.get("Code")) for reason in response.get("CancellationReasons") or []]


def expression_values(**values: Any) -> dict[str, Any]:
    """``ExpressionAttributeValues`` for ``:name`` placeholders."""
    return {f":{name}": encode(value) for name, value in values.items()}


def public(item: dict[str, Any]) -> dict[str, Any]:
    """Strip the storage keys: callers see entities, not the table layout."""
    return {key: value for key, value in item.items() if key not in KEY_ATTRIBUTES}


def update(
    key: dict[str, Any],
    sets: dict[str, Any],
    *,
    removes: tuple[str, ...] = (),
    condition: str | None = None,
    values: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
    returns: str = "NONE",
) -> dict[str, Any] | None:
    """One conditional UpdateItem; answers the returned attributes, or None when the condition failed."""
    attr_names = {f"#s{i}": name for i, name in enumerate(sets)} | {
        f"#r{i}": name for i, name in enumerate(removes)
    }
    attr_values = {f":s{i}": encode(value) for i, value in enumerate(sets.values())}
    clauses = []
    if sets:
        clauses.append("SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sets))))
    if removes:
        clauses.append("REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes))))
    request: dict[str, Any] = {
        "TableName": table_name(),
        "Key": key,
        "UpdateExpression": " ".join(clauses),
        "ExpressionAttributeNames": {**attr_names, **(names or {})},
        "ReturnValues": returns,
    }
    if condition:
        request["ConditionExpression"] = condition
    all_values = {**attr_values, **{f":{k}": encode(v) for k, v in (values or {}).items()}}
    if all_values:
        request["ExpressionAttributeValues"] = all_values
    try:
        answer = client().update_item(**request)
    except Exception as exc:
        if not is_condition_failure(exc):
            raise
        return None
    return decode_item(answer.get("Attributes", {}))


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """An opaque page cursor for the admin API (base64url of the LastEvaluatedKey)."""
    if not last_key:
        return None
    raw = json.dumps(decode_item(last_key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """Inverse of ``encode_cursor``; raises ValueError on anything that is not one of ours."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError("cursor is not valid") from exc
    if not isinstance(doc, dict) or not all(isinstance(v, str | int) for v in doc.values()):
        raise ValueError("cursor is not valid")
    return encode_item(doc)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None


def query_index(
    index: str,
    partition: str,
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = True,
    sk_from: str | None = None,
    equals: dict[str, Any] | None = None,
) -> Page:
    """One page of a GSI partition, sorted by its sort key, optionally from ``sk_from`` and filtered by
    attribute equality (filters are for admin reads only; hot and scheduled paths use keys alone)."""
    names = {"#pk": f"{index}pk"}
    values: dict[str, Any] = {":pk": encode(partition)}
    condition = "#pk = :pk"
    if sk_from is not None:
        names["#sk"] = f"{index}sk"
        values[":from"] = encode(sk_from)
        condition += " AND #sk >= :from"
    request: dict[str, Any] = {
        "TableName": table_name(),
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ScanIndexForward": not newest_first,
        "Limit": limit,
    }
    filters = []
    for i, (name, value) in enumerate((equals or {}).items()):
        names[f"#e{i}"] = name
        values[f":e{i}"] = encode(value)
        filters.append(f"#e{i} = :e{i}")
    if filters:
        request["FilterExpression"] = " AND ".join(filters)
    request["ExpressionAttributeNames"] = names
    request["ExpressionAttributeValues"] = values
    return _page(request, cursor)


def query_page(key_value: str, sk_prefix: str, *, limit: int, cursor: str | None) -> Page:
    """One page of a base-table partition's items whose sort key starts with ``sk_prefix``, by sort key."""
    request: dict[str, Any] = {
        "TableName": table_name(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": expression_values(pk=key_value, prefix=sk_prefix),
        "Limit": limit,
    }
    return _page(request, cursor)


def _page(request: dict[str, Any], cursor: str | None) -> Page:
    """Run one Query from ``cursor`` (an ``encode_cursor`` string); the items and the next page's cursor."""
    start = decode_cursor(cursor)
    if start:
        request["ExclusiveStartKey"] = start
    answer = client().query(**request)
    items = [public(decode_item(item)) for item in answer.get("Items", [])]
    return Page(items, encode_cursor(answer.get("LastEvaluatedKey")))


def query_all(key_value: str, sk_prefix: str | None = None) -> list[dict[str, Any]]:
    """Every item of one partition (small, bounded partitions only: rules, a campaign's children)."""
    return _every_page(
        {
            "TableName": table_name(),
            "KeyConditionExpression": "pk = :pk" + (" AND begins_with(sk, :sk)" if sk_prefix else ""),
            "ExpressionAttributeValues": {
                ":pk": encode(key_value),
                **({":sk": encode(sk_prefix)} if sk_prefix else {}),
            },
            "ConsistentRead": True,
        }
    )


def query_range(key_value: str, sk_low: str, sk_high: str) -> list[dict[str, Any]]:
    """Every item of one partition whose sort key lies in ``[sk_low, sk_high]`` (bounded ranges only:
    a channel's 30 days of counters), eventually consistent."""
    return _every_page(
        {
            "TableName": table_name(),
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": expression_values(pk=key_value, low=sk_low, high=sk_high),
        }
    )


def _every_page(request: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        answer = client().query(**request)
        items.extend(public(decode_item(item)) for item in answer.get("Items", []))
        if "LastEvaluatedKey" not in answer:
            return items
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def due(index: str, partition: str, upto: int, limit: int) -> list[dict[str, Any]]:
    """Items of a due partition (sort key ``{time:010d}#…``) whose time is at or before ``upto``, oldest first."""
    answer = client().query(
        TableName=table_name(),
        IndexName=index,
        KeyConditionExpression=f"{index}pk = :pk AND {index}sk <= :upto",
        ExpressionAttributeValues=expression_values(pk=partition, upto=due_upto(upto)),
        ScanIndexForward=True,
        Limit=limit,
    )
    return [public(decode_item(item)) for item in answer.get("Items", [])]


class DeadlinePassed(Exception):
    """A read was asked to finish by a moment (``time.monotonic``) that has passed: it stopped, unfinished."""


BATCH_GET_WORKERS = 8  # BatchGetItem calls one large read keeps in flight (botocore clients are thread-safe)


def batch_get(
    keys: list[dict[str, Any]],
    *,
    attributes: list[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> list[dict[str, Any]]:
    """The items of ``keys`` (encoded, unique) that exist, in no particular order: BatchGetItem, 100 keys a
    call, up to ``BATCH_GET_WORKERS`` calls at once (an audience of 100 000 is 1 000 calls: one after the
    other they are most of a request's time, the network's round trips), unprocessed keys (throttling) asked
    again with back-off until answered. Items come back with their storage keys; ``attributes`` limits what
    else is read (a projection: fewer bytes, same read units). ``deadline`` (``time.monotonic``): no call
    starts after it, ``DeadlinePassed`` is raised instead."""
    chunks = [keys[start : start + BATCH_GET_MAX] for start in range(0, len(keys), BATCH_GET_MAX)]
    if len(chunks) <= 1:
        return [item for chunk in chunks for item in _batch_get_chunk(chunk, attributes, sleep, deadline)]
    from concurrent.futures import ThreadPoolExecutor  # only large reads pay for it (the callback never)

    with ThreadPoolExecutor(max_workers=min(BATCH_GET_WORKERS, len(chunks))) as pool:
        parts = list(pool.map(lambda chunk: _batch_get_chunk(chunk, attributes, sleep, deadline), chunks))
    return [item for part in parts for item in part]


def _batch_get_chunk(
    keys: list[dict[str, Any]],
    attributes: list[str] | None,
    sleep: Callable[[float], None],
    deadline: float | None,
) -> list[dict[str, Any]]:
    """One BatchGetItem of at most 100 keys, its unprocessed keys asked again with back-off."""
    request: dict[str, Any] = {table_name(): {"Keys": keys, "ConsistentRead": True}}
    if attributes is not None:
        names = {f"#a{i}": name for i, name in enumerate(["pk", "sk", *attributes])}
        request[table_name()] |= {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
    found: list[dict[str, Any]] = []
    for attempt in range(BATCH_GET_ATTEMPTS):
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlinePassed("the read's time budget ran out")
        answer = client().batch_get_item(RequestItems=request)
        found.extend(decode_item(item) for item in answer.get("Responses", {}).get(table_name(), []))
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return found
        sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2))  # noqa: S311 - jitter only
    raise RuntimeError("DynamoDB kept leaving keys unprocessed (throttled)")


def batch_put(items: list[dict[str, Any]]) -> None:
    """Put plain items, 25 per BatchWriteItem; unprocessed items (throttling) are retried with backoff until
    written, so nothing is silently dropped."""
    for start in range(0, len(items), BATCH_WRITE_MAX):
        batch = items[start : start + BATCH_WRITE_MAX]
        _batch_write([{"PutRequest": {"Item": encode_item(item)}} for item in batch])


def _batch_write(requests: list[dict[str, Any]]) -> None:
    pending = {table_name(): requests}
    for attempt in range(10):
        answer = client().batch_write_item(RequestItems=pending)
        unprocessed = answer.get("UnprocessedItems") or {}
        if not unprocessed:
            return
        pending = unprocessed
        time.sleep(min(2.0, 0.05 * 2**attempt))
    raise RuntimeError("DynamoDB kept refusing result rows (throttled): the pass will be retried")
