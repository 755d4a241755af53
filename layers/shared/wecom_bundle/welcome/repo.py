"""The welcome domain's DynamoDB access: one function per access pattern (see docs/data-model.md,
"Welcome rules" and "Welcome events").

Rules live in one small partition the hot path's cache re-reads every few seconds; each add-contact event has
one record that is first its claim (a conditional write with a lease: WeCom's retries and concurrent
invocations send nothing twice), then its outcome and welcome-log entry. No function here scans: every read is
a GetItem or a Query on a key or an index. On the callback hot path: imports only the ``dynamo`` plumbing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict, cast

from wecom_bundle.dynamo.client import client, is_condition_failure
from wecom_bundle.dynamo.codec import decode_item, encode, encode_item
from wecom_bundle.dynamo.keys import (
    RULE_PK,
    RULE_PREFIX,
    WELCOME_LOG_PARTITIONS,
    rule_key,
    welcome_key,
    welcome_log_keys,
    welcome_log_sk_from,
)
from wecom_bundle.dynamo.table import Page, expression_values, public, query_all, query_index, table_name


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
class WelcomeRecord(TypedDict, total=False):
    """One add-contact event's item, which is also its welcome log entry (without the storage keys): the
    callback's service writes it in two steps (the claim, then the outcome) and the admin listing and a
    customer's history read it, so all of them name the same fields. Which fields are present depends on
    the step: a claim holds the event and the lease, the outcome adds the rest and drops the lease."""

    # the event, written with the claim
    external_userid: str
    userid: str
    state: str
    change_type: str
    create_time: int
    expires_at: int  # DynamoDB TTL (epoch seconds)
    # the claim
    outcome: str  # "pending" while claimed, then a welcome.service.WelcomeOutcome
    owner: str
    lease_until_ms: int
    claimed_at_ms: int
    # the outcome (welcome.service.OutcomeFields and when it was recorded)
    rule_id: str | None
    errcode: int | None
    attempts: int
    first_error: str | None
    latency_ms: int | None
    recorded_at_ms: int


@dataclass(frozen=True)
class Claim:
    """Result of trying to own one add-contact event."""

    won: bool
    current: WelcomeRecord | None  # the existing record when the claim was refused


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
        return Claim(False, cast("WelcomeRecord", public(decode_item(old))) if old else None)


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
    outcome: WelcomeRecord,
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


def get_welcome(event_key: str) -> WelcomeRecord | None:
    answer = client().get_item(
        TableName=table_name(), Key=encode_item(welcome_key(event_key)), ConsistentRead=True
    )
    return cast("WelcomeRecord", public(decode_item(answer["Item"]))) if "Item" in answer else None


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
