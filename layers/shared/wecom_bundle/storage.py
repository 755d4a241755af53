"""All DynamoDB access, one function per access pattern (see docs/data-model.md).

Why one module: the single-table key design (pk/sk, gsi1..gsi3, TTL ``expires_at``) is only safe while every
reader and writer agrees on it; keeping them side by side makes a drift visible in review. No function here
scans: every read is a GetItem or a Query on a key or an index.

The client is botocore's low-level client (no boto3 import on the hot path), created lazily once per
container with short timeouts and botocore's standard retry mode (throttling and 5xx are retried there).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from wecom_bundle import config
from wecom_bundle.dynamo_codec import decode_item, encode, encode_item

_client: Any = None

RULE_PK = "RULE"


# ----------------------------------------------------------------------------------------------- plumbing
def client() -> Any:
    """The per-container DynamoDB client (endpoint from ``DYNAMODB_ENDPOINT`` when set, e.g. locally)."""
    global _client
    if _client is None:
        import botocore.config
        import botocore.session

        session = botocore.session.get_session()
        _client = session.create_client(
            "dynamodb",
            region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=os.environ.get("DYNAMODB_ENDPOINT") or None,
            config=botocore.config.Config(
                connect_timeout=2,
                read_timeout=5,
                retries={"mode": "standard", "max_attempts": 4},
                max_pool_connections=32,
                tcp_keepalive=True,
            ),
        )
    return _client


def reset_client() -> None:
    """Forget the client (tests switch endpoints and mocks between cases)."""
    global _client
    _client = None


def _table() -> str:
    return config.table_name()


def _is_condition_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _values(**values: Any) -> dict[str, Any]:
    return {f":{name}": encode(value) for name, value in values.items()}


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
        "TableName": _table(),
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
    start = decode_cursor(cursor)
    if start:
        request["ExclusiveStartKey"] = start
    answer = client().query(**request)
    items = [_public(decode_item(item)) for item in answer.get("Items", [])]
    return Page(items, encode_cursor(answer.get("LastEvaluatedKey")))


def _query_all(key_value: str, sk_prefix: str | None = None) -> list[dict[str, Any]]:
    """Every item of one partition (small, bounded partitions only: rules, a campaign's children)."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk" + (" AND begins_with(sk, :sk)" if sk_prefix else ""),
        "ExpressionAttributeValues": {
            ":pk": encode(key_value),
            **({":sk": encode(sk_prefix)} if sk_prefix else {}),
        },
        "ConsistentRead": True,
    }
    while True:
        answer = client().query(**request)
        items.extend(_public(decode_item(item)) for item in answer.get("Items", []))
        if "LastEvaluatedKey" not in answer:
            return items
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


_KEY_ATTRIBUTES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"})


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """Strip the storage keys: callers see entities, not the table layout."""
    return {key: value for key, value in item.items() if key not in _KEY_ATTRIBUTES}


# ----------------------------------------------------------------------------------------------- welcome rules
def put_rule(rule: dict[str, Any]) -> None:
    """Create or replace a welcome rule (PUT semantics)."""
    item = {"pk": RULE_PK, "sk": f"RULE#{rule['rule_id']}", **rule}
    client().put_item(TableName=_table(), Item=encode_item(item))


def get_rule(rule_id: str) -> dict[str, Any] | None:
    answer = client().get_item(
        TableName=_table(), Key=encode_item({"pk": RULE_PK, "sk": f"RULE#{rule_id}"}), ConsistentRead=True
    )
    return _public(decode_item(answer["Item"])) if "Item" in answer else None


def list_rules() -> list[dict[str, Any]]:
    """All welcome rules: one small partition, read by the hot path's cache every few seconds."""
    return _query_all(RULE_PK, "RULE#")


def delete_rule(rule_id: str) -> bool:
    """Delete a rule; answer whether it existed."""
    answer = client().delete_item(
        TableName=_table(), Key=encode_item({"pk": RULE_PK, "sk": f"RULE#{rule_id}"}), ReturnValues="ALL_OLD"
    )
    return "Attributes" in answer


# ----------------------------------------------------------------------------------------------- welcome events
@dataclass(frozen=True)
class Claim:
    """Result of trying to own one add-contact event."""

    won: bool
    current: dict[str, Any] | None  # the existing record when the claim was refused


def _welcome_key(event_key: str) -> dict[str, Any]:
    return encode_item({"pk": f"WELCOME#{event_key}", "sk": "WELCOME"})


def claim_welcome(
    event_key: str, owner: str, now_ms: int, lease_until_ms: int, record: dict[str, Any]
) -> Claim:
    """Conditionally create (or take over a crashed owner's) in-progress record for an event.

    Wins when no record exists, or when the record is still ``pending`` and its lease has run out (the first
    owner crashed before finishing). Refused otherwise; the refused caller gets the current record.
    """
    item = {
        "pk": f"WELCOME#{event_key}",
        "sk": "WELCOME",
        **record,
        "outcome": "pending",
        "owner": owner,
        "lease_until_ms": lease_until_ms,
        "claimed_at_ms": now_ms,
    }
    try:
        client().put_item(
            TableName=_table(),
            Item=encode_item(item),
            ConditionExpression="attribute_not_exists(pk) OR (outcome = :pending AND lease_until_ms < :now)",
            ExpressionAttributeValues=_values(pending="pending", now=now_ms),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return Claim(True, None)
    except Exception as exc:  # botocore's ConditionalCheckFailedException is generated per client
        if not _is_condition_failure(exc):
            raise
        old = getattr(exc, "response", {}).get("Item")
        return Claim(False, _public(decode_item(old)) if old else None)


def renew_welcome_lease(event_key: str, owner: str, lease_until_ms: int) -> bool:
    """Extend our lease before another slow attempt; False means someone else took over."""
    try:
        client().update_item(
            TableName=_table(),
            Key=_welcome_key(event_key),
            UpdateExpression="SET lease_until_ms = :lease",
            ConditionExpression="#owner = :owner AND outcome = :pending",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues=_values(lease=lease_until_ms, owner=owner, pending="pending"),
        )
        return True
    except Exception as exc:
        if not _is_condition_failure(exc):
            raise
        return False


def record_welcome_outcome(
    event_key: str, owner: str, outcome: dict[str, Any], index_keys: dict[str, str]
) -> bool:
    """Write the final outcome (and the log's index keys) if we still own the event."""
    fields = {**outcome, **index_keys}
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": encode(value) for i, value in enumerate(fields.values())}
    sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    try:
        client().update_item(
            TableName=_table(),
            Key=_welcome_key(event_key),
            UpdateExpression=f"SET {sets} REMOVE lease_until_ms",
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={**names, "#owner": "owner"},
            ExpressionAttributeValues={**values, ":owner": encode(owner)},
        )
        return True
    except Exception as exc:
        if not _is_condition_failure(exc):
            raise
        return False


def get_welcome(event_key: str) -> dict[str, Any] | None:
    answer = client().get_item(TableName=_table(), Key=_welcome_key(event_key), ConsistentRead=True)
    return _public(decode_item(answer["Item"])) if "Item" in answer else None


WELCOME_LOG_INDEXES = {"external_userid": "gsi1", "userid": "gsi2", "day": "gsi3"}


def query_welcomes(
    by: str, partition: str, *, since: int | None, limit: int, cursor: str | None, state: str | None = None
) -> Page:
    """Welcome log newest first, by customer (gsi1), member (gsi2) or day (gsi3); optional channel filter."""
    return query_index(
        WELCOME_LOG_INDEXES[by],
        partition,
        limit=limit,
        cursor=cursor,
        sk_from=f"{since:010d}" if since is not None else None,
        equals={"state": state} if state is not None else None,
    )


# ----------------------------------------------------------------------------------------------- access token
def _token_key(scope: str) -> dict[str, Any]:
    return encode_item({"pk": f"TOKEN#{scope}", "sk": "TOKEN"})


def get_token(scope: str) -> dict[str, Any] | None:
    """The shared access-token record: {access_token, token_expires_at_ms, lease_owner, lease_until_ms}."""
    answer = client().get_item(TableName=_table(), Key=_token_key(scope), ConsistentRead=True)
    return decode_item(answer["Item"]) if "Item" in answer else None


def acquire_token_lease(
    scope: str, owner: str, now_ms: int, lease_until_ms: int, fresh_until_ms: int
) -> bool:
    """Become the one refresher of the token (conditional write). Refused while another holds the lease,
    and also when the stored token is still fresh past ``fresh_until_ms`` — someone refreshed between our
    read and this write, and a second ``gettoken`` would be wasted."""
    try:
        client().update_item(
            TableName=_table(),
            Key=_token_key(scope),
            UpdateExpression="SET lease_owner = :owner, lease_until_ms = :lease",
            ConditionExpression="(attribute_not_exists(lease_until_ms) OR lease_until_ms < :now)"
            " AND (attribute_not_exists(token_expires_at_ms) OR token_expires_at_ms < :fresh)",
            ExpressionAttributeValues=_values(
                owner=owner, lease=lease_until_ms, now=now_ms, fresh=fresh_until_ms
            ),
        )
        return True
    except Exception as exc:
        if not _is_condition_failure(exc):
            raise
        return False


def store_token(scope: str, owner: str, access_token: str, token_expires_at_ms: int) -> None:
    """Publish a fresh token and release our lease."""
    client().update_item(
        TableName=_table(),
        Key=_token_key(scope),
        UpdateExpression="SET access_token = :token, token_expires_at_ms = :exp REMOVE lease_owner, lease_until_ms",
        ConditionExpression="lease_owner = :owner",
        ExpressionAttributeValues=_values(token=access_token, exp=token_expires_at_ms, owner=owner),
    )


def release_token_lease(scope: str, owner: str) -> None:
    """Give the lease back after a failed refresh so another container can try at once."""
    try:
        client().update_item(
            TableName=_table(),
            Key=_token_key(scope),
            UpdateExpression="REMOVE lease_owner, lease_until_ms",
            ConditionExpression="lease_owner = :owner",
            ExpressionAttributeValues=_values(owner=owner),
        )
    except Exception as exc:
        if not _is_condition_failure(exc):
            raise


def expire_token(scope: str, access_token: str) -> None:
    """Mark a token WeCom rejected as expired, unless someone already replaced it."""
    try:
        client().update_item(
            TableName=_table(),
            Key=_token_key(scope),
            UpdateExpression="SET token_expires_at_ms = :zero",
            ConditionExpression="access_token = :token",
            ExpressionAttributeValues=_values(zero=0, token=access_token),
        )
    except Exception as exc:
        if not _is_condition_failure(exc):
            raise
