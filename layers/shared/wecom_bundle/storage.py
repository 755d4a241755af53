"""All DynamoDB access, one function per access pattern (see docs/data-model.md).

Why one module: callers ask for what they need (claim a welcome, record a chunk's msgid) and never build a
request; the access patterns side by side make a missing index or a second writer visible in review. No
function here scans: every read is a GetItem or a Query on a key or an index.

The plumbing lives in ``wecom_bundle.dynamo``: the per-container client (``dynamo.client``; ``client`` and
``reset_client`` are re-exported here), the value codec, the shared request helpers (``dynamo.table``) and
every key of the single-table design (``dynamo.keys``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wecom_bundle.dynamo.client import client, is_condition_failure
from wecom_bundle.dynamo.client import reset_client as reset_client  # tests and callers reset through storage
from wecom_bundle.dynamo.codec import decode_item, encode, encode_item
from wecom_bundle.dynamo.keys import (
    RULE_PK,
    RULE_PREFIX,
    WELCOME_LOG_PARTITIONS,
    rule_key,
    token_key,
    welcome_key,
    welcome_log_keys,
    welcome_log_sk_from,
)
from wecom_bundle.dynamo.keys import (
    welcome_log_month as welcome_log_month,  # welcome_admin asks storage which month to list
)
from wecom_bundle.dynamo.table import (
    Page,
    expression_values,
    public,
    query_all,
    query_index,
    table_name,
    update,
)


# ----------------------------------------------------------------------------------------------- welcome rules
def put_rule(rule: dict[str, Any]) -> None:
    """Create or replace a welcome rule (PUT semantics)."""
    item = {**rule_key(rule["rule_id"]), **rule}
    client().put_item(TableName=table_name(), Item=encode_item(item))


def get_rule(rule_id: str) -> dict[str, Any] | None:
    answer = client().get_item(
        TableName=table_name(), Key=encode_item(rule_key(rule_id)), ConsistentRead=True
    )
    return public(decode_item(answer["Item"])) if "Item" in answer else None


def list_rules() -> list[dict[str, Any]]:
    """All welcome rules: one small partition, read by the hot path's cache every few seconds."""
    return query_all(RULE_PK, RULE_PREFIX)


def delete_rule(rule_id: str) -> bool:
    """Delete a rule; answer whether it existed."""
    answer = client().delete_item(
        TableName=table_name(),
        Key=encode_item(rule_key(rule_id)),
        ReturnValues="ALL_OLD",
    )
    return "Attributes" in answer


# ----------------------------------------------------------------------------------------------- welcome events
@dataclass(frozen=True)
class Claim:
    """Result of trying to own one add-contact event."""

    won: bool
    current: dict[str, Any] | None  # the existing record when the claim was refused


def claim_welcome(
    event_key: str, owner: str, now_ms: int, lease_until_ms: int, record: dict[str, Any]
) -> Claim:
    """Conditionally create (or take over a crashed owner's) in-progress record for an event.

    Wins when no record exists, or when the record is still ``pending`` and its lease has run out (the first
    owner crashed before finishing). Refused otherwise; the refused caller gets the current record.
    """
    item = {
        **welcome_key(event_key),
        **record,
        "outcome": "pending",
        "owner": owner,
        "lease_until_ms": lease_until_ms,
        "claimed_at_ms": now_ms,
    }
    try:
        client().put_item(
            TableName=table_name(),
            Item=encode_item(item),
            ConditionExpression="attribute_not_exists(pk) OR (outcome = :pending AND lease_until_ms < :now)",
            ExpressionAttributeValues=expression_values(pending="pending", now=now_ms),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return Claim(True, None)
    except Exception as exc:  # botocore's ConditionalCheckFailedException is generated per client
        if not is_condition_failure(exc):
            raise
        old = getattr(exc, "response", {}).get("Item")
        return Claim(False, public(decode_item(old)) if old else None)


def renew_welcome_lease(event_key: str, owner: str, lease_until_ms: int) -> bool:
    """Extend our lease before another slow attempt; False means someone else took over."""
    try:
        client().update_item(
            TableName=table_name(),
            Key=encode_item(welcome_key(event_key)),
            UpdateExpression="SET lease_until_ms = :lease",
            ConditionExpression="#owner = :owner AND outcome = :pending",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues=expression_values(lease=lease_until_ms, owner=owner, pending="pending"),
        )
        return True
    except Exception as exc:
        if not is_condition_failure(exc):
            raise
        return False


def record_welcome_outcome(
    event_key: str,
    owner: str,
    outcome: dict[str, Any],
    *,
    external_userid: str,
    userid: str,
    create_time: int,
) -> bool:
    """Write the final outcome, and the log's index keys, if we still own the event.

    The index keys are written only now, so in-flight claims never show in the welcome log.
    """
    fields = {**outcome, **welcome_log_keys(external_userid, userid, create_time)}
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": encode(value) for i, value in enumerate(fields.values())}
    sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    try:
        client().update_item(
            TableName=table_name(),
            Key=encode_item(welcome_key(event_key)),
            UpdateExpression=f"SET {sets} REMOVE lease_until_ms",
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={**names, "#owner": "owner"},
            ExpressionAttributeValues={**values, ":owner": encode(owner)},
        )
        return True
    except Exception as exc:
        if not is_condition_failure(exc):
            raise
        return False


def get_welcome(event_key: str) -> dict[str, Any] | None:
    answer = client().get_item(
        TableName=table_name(), Key=encode_item(welcome_key(event_key)), ConsistentRead=True
    )
    return public(decode_item(answer["Item"])) if "Item" in answer else None


def query_welcomes(
    by: str,
    value: str,
    *,
    since: int | None,
    limit: int,
    cursor: str | None,
    equals: dict[str, Any] | None = None,
) -> Page:
    """Welcome log newest first, by customer, member or month (``by``), from ``since`` (epoch seconds);
    ``equals`` filters on other attributes (admin reads only). Raises ValueError for a foreign cursor."""
    index, prefix = WELCOME_LOG_PARTITIONS[by]
    return query_index(
        index,
        f"{prefix}{value}",
        limit=limit,
        cursor=cursor,
        sk_from=welcome_log_sk_from(since) if since is not None else None,
        equals=equals or None,
    )


# ----------------------------------------------------------------------------------------------- access token
def get_token(scope: str) -> dict[str, Any] | None:
    """The shared access-token record: {access_token, token_expires_at_ms, lease_owner, lease_until_ms}."""
    answer = client().get_item(TableName=table_name(), Key=encode_item(token_key(scope)), ConsistentRead=True)
    return decode_item(answer["Item"]) if "Item" in answer else None


def acquire_token_lease(
    scope: str, owner: str, now_ms: int, lease_until_ms: int, fresh_until_ms: int
) -> bool:
    """Become the one refresher of the token (conditional write). Refused while another holds the lease,
    while a failed refresh is backing off (``refresh_backoff_until_ms``), and also when the stored token is
    still fresh past ``fresh_until_ms`` — someone refreshed between our read and this write, and a second
    ``gettoken`` would be wasted."""
    return (
        update(
            encode_item(token_key(scope)),
            {"lease_owner": owner, "lease_until_ms": lease_until_ms},
            condition="(attribute_not_exists(lease_until_ms) OR lease_until_ms < :now)"
            " AND (attribute_not_exists(refresh_backoff_until_ms) OR refresh_backoff_until_ms <= :now)"
            " AND (attribute_not_exists(token_expires_at_ms) OR token_expires_at_ms < :fresh)",
            values={"now": now_ms, "fresh": fresh_until_ms},
        )
        is not None
    )


def store_token(scope: str, owner: str, access_token: str, token_expires_at_ms: int) -> None:
    """Publish a fresh token and release our lease (and forget earlier failures: gettoken works again)."""
    client().update_item(
        TableName=table_name(),
        Key=encode_item(token_key(scope)),
        UpdateExpression="SET access_token = :token, token_expires_at_ms = :exp"
        " REMOVE lease_owner, lease_until_ms, refresh_backoff_until_ms, refresh_failures",
        ConditionExpression="lease_owner = :owner",
        ExpressionAttributeValues=expression_values(token=access_token, exp=token_expires_at_ms, owner=owner),
    )


def release_token_lease(scope: str, owner: str) -> None:
    """Give the lease back after a failed refresh so another container can try at once."""
    update(
        encode_item(token_key(scope)),
        {},
        removes=("lease_owner", "lease_until_ms"),
        condition="lease_owner = :owner",
        values={"owner": owner},
    )


def claim_token_fallback(scope: str, now_ms: int, backoff_until_ms: int) -> bool:
    """Take the one lease-less refresh allowed per back-off period (token_store's last resort when the
    lease holder looks stuck): sets the back-off first, so the other waiters do not all fetch at once."""
    return (
        update(
            encode_item(token_key(scope)),
            {"refresh_backoff_until_ms": backoff_until_ms},
            condition="attribute_not_exists(refresh_backoff_until_ms) OR refresh_backoff_until_ms <= :now",
            values={"now": now_ms},
        )
        is not None
    )


def fail_token_refresh(scope: str, owner: str | None, backoff_until_ms: int) -> None:
    """A gettoken call failed: nobody refreshes again before ``backoff_until_ms`` (shared by every container)
    and the consecutive-failure count grows. ``owner``: release our lease too (None: we refreshed without
    one, see token_store's last resort)."""
    request: dict[str, Any] = {
        "TableName": table_name(),
        "Key": encode_item(token_key(scope)),
        "UpdateExpression": "SET refresh_backoff_until_ms = :until,"
        " refresh_failures = if_not_exists(refresh_failures, :zero) + :one",
        "ExpressionAttributeValues": expression_values(until=backoff_until_ms, zero=0, one=1),
    }
    if owner is not None:
        request["UpdateExpression"] += " REMOVE lease_owner, lease_until_ms"
        request["ConditionExpression"] = "lease_owner = :owner"
        request["ExpressionAttributeValues"].update(expression_values(owner=owner))
    try:
        client().update_item(**request)
    except Exception as exc:
        if not is_condition_failure(exc):  # our lease was taken over: its new holder decides
            raise


def expire_token(scope: str, access_token: str) -> None:
    """Mark a token WeCom rejected as expired, unless someone already replaced it."""
    update(
        encode_item(token_key(scope)),
        {"token_expires_at_ms": 0},
        condition="access_token = :token",
        values={"token": access_token},
    )
