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
    GROUP_TEMPLATE_PK,
    INTENT_PREFIX,
    MEDIA_DUE,
    RULE_PK,
    RULE_PREFIX,
    TEMPLATE_PREFIX,
    WELCOME_LOG_PARTITIONS,
    group_template_intent_key,
    group_template_key,
    media_due_sk,
    media_key,
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
    due,
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
