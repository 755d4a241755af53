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
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wecom_bundle import aws, config
from wecom_bundle.dynamo_codec import decode_item, encode, encode_item

_client: Any = None

RULE_PK = "RULE"


# ----------------------------------------------------------------------------------------------- plumbing
def client() -> Any:
    """The per-container DynamoDB client (endpoint from ``DYNAMODB_ENDPOINT`` when set, e.g. locally)."""
    global _client
    if _client is None:
        _client = aws.client(
            "dynamodb",
            "DYNAMODB_ENDPOINT",
            connect_timeout=2,
            # 5 s is far above DynamoDB's latency in AWS; the local stack raises it (see local/settings.py).
            read_timeout=config.env_float("DYNAMODB_READ_TIMEOUT_SECONDS", 5.0),
            retries={"mode": "standard", "max_attempts": 4},
            max_pool_connections=32,
            tcp_keepalive=True,
        )
    return _client


def reset_client() -> None:
    """Forget the client (tests switch endpoints and mocks between cases)."""
    global _client
    _client = None


def _table() -> str:
    return config.table_name()


def is_condition_failure(exc: Exception) -> bool:
    """True for a refused conditional write (the expected way to lose a race), False for real faults."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _values(**values: Any) -> dict[str, Any]:
    return {f":{name}": encode(value) for name, value in values.items()}


def _update(
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
        "TableName": _table(),
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


# ----------------------------------------------------------------------------------------------- group welcome templates
# Layout (docs/data-model.md, "Group welcome templates"): one small partition (WeCom caps a corp at 100
# templates) holds the mirror records and the intents written before each ``add``. The intent exists because
# WeCom has no "list templates" call: without it, an add whose mirror write failed would leave a template in
# WeCom that nobody can find again.
GROUP_TEMPLATE_PK = "GROUP_TEMPLATE"


def _group_template_key(template_id: str) -> dict[str, Any]:
    return encode_item({"pk": GROUP_TEMPLATE_PK, "sk": f"TEMPLATE#{template_id}"})


def _group_template_intent_key(intent_id: str) -> dict[str, Any]:
    return encode_item({"pk": GROUP_TEMPLATE_PK, "sk": f"INTENT#{intent_id}"})


def put_group_template_intent(intent: dict[str, Any]) -> None:
    """Record an ``add`` about to be sent to WeCom (its content, time; no template id yet)."""
    item = {"pk": GROUP_TEMPLATE_PK, "sk": f"INTENT#{intent['intent_id']}", **intent}
    client().put_item(
        TableName=_table(), Item=encode_item(item), ConditionExpression="attribute_not_exists(pk)"
    )


def record_group_template_added(intent_id: str, template: dict[str, Any]) -> None:
    """The mirror record of a template WeCom created, and the end of its intent, in one transaction."""
    record = {"pk": GROUP_TEMPLATE_PK, "sk": f"TEMPLATE#{template['template_id']}", **template}
    client().transact_write_items(
        TransactItems=[
            {"Put": {"TableName": _table(), "Item": encode_item(record)}},
            {"Delete": {"TableName": _table(), "Key": _group_template_intent_key(intent_id)}},
        ]
    )


def note_group_template_intent_id(intent_id: str, template_id: str) -> None:
    """Keep WeCom's answer on the intent when the mirror record could not be written (reconcile reads it)."""
    _update(
        _group_template_intent_key(intent_id),
        {"template_id": template_id},
        condition="attribute_exists(pk)",
    )


def delete_group_template_intent(intent_id: str) -> None:
    client().delete_item(TableName=_table(), Key=_group_template_intent_key(intent_id))


def group_template_intents() -> list[dict[str, Any]]:
    """Every intent still open: adds in flight, or adds whose outcome the mirror does not hold."""
    return _query_all(GROUP_TEMPLATE_PK, "INTENT#")


def put_group_template(template: dict[str, Any]) -> None:
    """Create or replace a mirror record (after a WeCom edit, or a repair by reconcile)."""
    item = {"pk": GROUP_TEMPLATE_PK, "sk": f"TEMPLATE#{template['template_id']}", **template}
    client().put_item(TableName=_table(), Item=encode_item(item))


def get_group_template(template_id: str) -> dict[str, Any] | None:
    answer = client().get_item(TableName=_table(), Key=_group_template_key(template_id), ConsistentRead=True)
    return _public(decode_item(answer["Item"])) if "Item" in answer else None


def list_group_templates() -> list[dict[str, Any]]:
    """Every mirrored template (at most 100 per corp: one Query of the partition, no paging for callers)."""
    return _query_all(GROUP_TEMPLATE_PK, "TEMPLATE#")


def note_group_template_media(
    template_id: str, wecom_media: dict[str, Any], seen_updated_at_ms: int | None, now_ms: int
) -> bool:
    """After the media refresh re-pointed a template in WeCom: record the ids WeCom now holds, unless an
    operator's edit changed the record since it was read (answers False: the caller edits WeCom again)."""
    seen = {"seen": seen_updated_at_ms} if seen_updated_at_ms is not None else {}
    answer = _update(
        _group_template_key(template_id),
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
    _update(
        _group_template_key(template_id), {"media_refresh_error": error}, condition="attribute_exists(pk)"
    )


def delete_group_template(template_id: str) -> bool:
    """Remove a mirror record; answer whether it existed."""
    answer = client().delete_item(
        TableName=_table(), Key=_group_template_key(template_id), ReturnValues="ALL_OLD"
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
        if not is_condition_failure(exc):
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
        if not is_condition_failure(exc):
            raise
        return False


def welcome_log_month(create_time: int) -> str:
    """The month partition (UTC ``YYYY-MM``) a welcome record is listed under."""
    return datetime.fromtimestamp(create_time, UTC).strftime("%Y-%m")


def _welcome_log_keys(external_userid: str, userid: str, create_time: int) -> dict[str, str]:
    sort = f"{create_time:010d}#{external_userid}#{userid}"
    return {
        "gsi1pk": f"{WELCOME_LOG_PARTITIONS['external_userid'][1]}{external_userid}",
        "gsi1sk": sort,
        "gsi2pk": f"{WELCOME_LOG_PARTITIONS['userid'][1]}{userid}",
        "gsi2sk": sort,
        "gsi3pk": f"{WELCOME_LOG_PARTITIONS['month'][1]}{welcome_log_month(create_time)}",
        "gsi3sk": sort,
    }


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
    fields = {**outcome, **_welcome_log_keys(external_userid, userid, create_time)}
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
        if not is_condition_failure(exc):
            raise
        return False


def get_welcome(event_key: str) -> dict[str, Any] | None:
    answer = client().get_item(TableName=_table(), Key=_welcome_key(event_key), ConsistentRead=True)
    return _public(decode_item(answer["Item"])) if "Item" in answer else None


# Welcome-log listing: (index, partition prefix) per way of asking.
WELCOME_LOG_PARTITIONS = {
    "external_userid": ("gsi1", "WLOG#EXT#"),
    "userid": ("gsi2", "WLOG#USER#"),
    "month": ("gsi3", "WLOG#MONTH#"),
}


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
        sk_from=f"{since:010d}" if since is not None else None,
        equals=equals or None,
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
    while a failed refresh is backing off (``refresh_backoff_until_ms``), and also when the stored token is
    still fresh past ``fresh_until_ms`` — someone refreshed between our read and this write, and a second
    ``gettoken`` would be wasted."""
    return (
        _update(
            _token_key(scope),
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
        TableName=_table(),
        Key=_token_key(scope),
        UpdateExpression="SET access_token = :token, token_expires_at_ms = :exp"
        " REMOVE lease_owner, lease_until_ms, refresh_backoff_until_ms, refresh_failures",
        ConditionExpression="lease_owner = :owner",
        ExpressionAttributeValues=_values(token=access_token, exp=token_expires_at_ms, owner=owner),
    )


def release_token_lease(scope: str, owner: str) -> None:
    """Give the lease back after a failed refresh so another container can try at once."""
    _update(
        _token_key(scope),
        {},
        removes=("lease_owner", "lease_until_ms"),
        condition="lease_owner = :owner",
        values={"owner": owner},
    )


def claim_token_fallback(scope: str, now_ms: int, backoff_until_ms: int) -> bool:
    """Take the one lease-less refresh allowed per back-off period (token_store's last resort when the
    lease holder looks stuck): sets the back-off first, so the other waiters do not all fetch at once."""
    return (
        _update(
            _token_key(scope),
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
        "TableName": _table(),
        "Key": _token_key(scope),
        "UpdateExpression": "SET refresh_backoff_until_ms = :until,"
        " refresh_failures = if_not_exists(refresh_failures, :zero) + :one",
        "ExpressionAttributeValues": _values(until=backoff_until_ms, zero=0, one=1),
    }
    if owner is not None:
        request["UpdateExpression"] += " REMOVE lease_owner, lease_until_ms"
        request["ConditionExpression"] = "lease_owner = :owner"
        request["ExpressionAttributeValues"].update(_values(owner=owner))
    try:
        client().update_item(**request)
    except Exception as exc:
        if not is_condition_failure(exc):  # our lease was taken over: its new holder decides
            raise


def expire_token(scope: str, access_token: str) -> None:
    """Mark a token WeCom rejected as expired, unless someone already replaced it."""
    _update(
        _token_key(scope),
        {"token_expires_at_ms": 0},
        condition="access_token = :token",
        values={"token": access_token},
    )


# ----------------------------------------------------------------------------------------------- campaigns
# Layout (docs/data-model.md, "Campaigns"): one partition per campaign holds the campaign record, its chunk
# intents, audience / fail-list parts (<= 5 000 ids per item: items are capped at 400 KB) and reminder
# events. Sort keys are chosen so that one Query of "CAMPAIGN".."EVENT#~" reads everything an operator
# sees without the (large) PART# items.
CAMPAIGN_SK = "CAMPAIGN"
CAMPAIGN_LIST_PK = "CAMPAIGNS"
DUE_SEND = "DUE#SEND"
DUE_REMIND = "DUE#REMIND"
MSGID_SK = "MSGID"
_VIEW_LAST_SK = "EVENT#~"


def campaign_pk(campaign_id: str) -> str:
    return f"CAMPAIGN#{campaign_id}"


def chunk_sk(chunk: int) -> str:
    return f"CHUNK#{chunk:03d}"


def part_sk(kind: str, chunk: int, part: int) -> str:
    """``kind`` is AUD (audience ids) or FAIL (WeCom's fail_list)."""
    return f"PART#{kind}#{chunk:03d}#{part:02d}"


def due_sk(at: int, campaign_id: str) -> str:
    return f"{int(at):010d}#{campaign_id}"


def campaign_status_keys(status: str) -> dict[str, str]:
    """Status and its list index partition change together (gsi2: campaigns by status, newest first)."""
    return {"status": status, "gsi2pk": f"CAMPAIGNS#{status}"}


def _campaign_key(campaign_id: str) -> dict[str, Any]:
    return encode_item({"pk": campaign_pk(campaign_id), "sk": CAMPAIGN_SK})


def _chunk_key(campaign_id: str, chunk: int) -> dict[str, Any]:
    return encode_item({"pk": campaign_pk(campaign_id), "sk": chunk_sk(chunk)})


def put_campaign_part(campaign_id: str, kind: str, chunk: int, part: int, ids: list[str]) -> None:
    """Store up to 5 000 ids (audience or fail_list). Plain PutItem: rewriting the same part is harmless."""
    item = {"pk": campaign_pk(campaign_id), "sk": part_sk(kind, chunk, part), "ids": ids}
    client().put_item(TableName=_table(), Item=encode_item(item))


def campaign_part_ids(campaign_id: str, kind: str, chunk: int) -> list[str]:
    """Every id of one chunk's audience (AUD) or fail_list (FAIL), in part order."""
    parts = _query_all(campaign_pk(campaign_id), f"PART#{kind}#{chunk:03d}#")  # in sort-key (part) order
    return [i for part in parts for i in part.get("ids", [])]


def delete_campaign_parts(campaign_id: str, sort_keys: list[str]) -> None:
    """Remove parts written for a campaign that was never created (lost an idempotency race)."""
    for sort_key in sort_keys:
        client().delete_item(
            TableName=_table(), Key=encode_item({"pk": campaign_pk(campaign_id), "sk": sort_key})
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
                "TableName": _table(),
                "Item": encode_item({"pk": pk, "sk": CAMPAIGN_SK, **campaign}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    items += [
        {"Put": {"TableName": _table(), "Item": encode_item({"pk": pk, "sk": chunk_sk(c["chunk"]), **c})}}
        for c in chunks
    ]
    if idempotency is not None:
        items.append(
            {
                "Put": {
                    "TableName": _table(),
                    "Item": encode_item(
                        {"pk": f"IDEMPOTENCY#{idempotency['key']}", "sk": "IDEMPOTENCY", **idempotency}
                    ),
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
        TableName=_table(),
        Key=encode_item({"pk": f"IDEMPOTENCY#{key}", "sk": "IDEMPOTENCY"}),
        ConsistentRead=True,
    )
    return _public(decode_item(answer["Item"])) if "Item" in answer else None


def get_campaign(campaign_id: str) -> dict[str, Any] | None:
    answer = client().get_item(TableName=_table(), Key=_campaign_key(campaign_id), ConsistentRead=True)
    return _public(decode_item(answer["Item"])) if "Item" in answer else None


def campaign_view(
    campaign_id: str,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """The campaign record, its chunks and its events in one consistent Query (no audience parts)."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": _values(
            pk=campaign_pk(campaign_id), first=CAMPAIGN_SK, last=_VIEW_LAST_SK
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
    campaign = next((_public(r) for r in rows if r["sk"] == CAMPAIGN_SK), None)
    chunks = [_public(r) for r in rows if r["sk"].startswith("CHUNK#")]
    events = [_public(r) for r in rows if r["sk"].startswith("EVENT#")]
    return campaign, chunks, events


def campaign_chunks(campaign_id: str) -> list[dict[str, Any]]:
    """A campaign's chunk intents in chunk order (at most one per 10 000 recipients)."""
    return sorted(_query_all(campaign_pk(campaign_id), "CHUNK#"), key=lambda c: c["chunk"])


def list_campaigns(status: str | None, *, limit: int, cursor: str | None) -> Page:
    """Campaigns newest first: all of them (gsi1) or one status (gsi2)."""
    if status is None:
        return query_index("gsi1", CAMPAIGN_LIST_PK, limit=limit, cursor=cursor)
    return query_index("gsi2", f"CAMPAIGNS#{status}", limit=limit, cursor=cursor)


def due_campaigns(kind: str, now: int, limit: int) -> list[dict[str, Any]]:
    """Campaigns whose send (DUE#SEND) or reminder turn (DUE#REMIND) is due, oldest first (gsi3)."""
    return _due("gsi3", kind, now, limit)


def _due(index: str, partition: str, upto: int, limit: int) -> list[dict[str, Any]]:
    """Items of a due partition (sort key ``{time:010d}#…``) whose time is at or before ``upto``, oldest first."""
    answer = client().query(
        TableName=_table(),
        IndexName=index,
        KeyConditionExpression=f"{index}pk = :pk AND {index}sk <= :upto",
        ExpressionAttributeValues=_values(pk=partition, upto=f"{int(upto):010d}#~"),
        ScanIndexForward=True,
        Limit=limit,
    )
    return [_public(decode_item(item)) for item in answer.get("Items", [])]


# --- sending: the claim (lease) on a campaign and the intent / outcome of each chunk
def claim_campaign_send(campaign_id: str, owner: str, now: int, lease_until: int) -> dict[str, Any] | None:
    """Become the one sender of a campaign: a due ``scheduled`` one, or a ``creating`` one whose owner's lease
    ran out (it crashed or ran out of time). While creating, the due key points at the lease's end, so a
    stalled campaign shows up as due again by itself. Answers the claimed record, or None."""
    return _update(
        _campaign_key(campaign_id),
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
        _update(
            _campaign_key(campaign_id),
            {"lease_until": lease_until, "gsi3sk": due_sk(lease_until, campaign_id)},
            condition="#owner = :owner AND #st = :creating",
            names={"#owner": "owner", "#st": "status"},
            values={"owner": owner, "creating": "creating"},
        )
        is not None
    )


def release_campaign_lease(campaign_id: str, owner: str, now: int) -> None:
    """Out of time or WeCom unavailable: let the next scheduled run resume at once."""
    _update(
        _campaign_key(campaign_id),
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
        _update(
            _campaign_key(campaign_id),
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
        _update(
            _chunk_key(campaign_id, chunk),
            {
                "state": "calling",
                "attempt_at": now,
                "first_attempt_at": first_attempt_at,
                "gsi1pk": f"ORPHAN#{fingerprint}",
                "gsi1sk": f"{first_attempt_at:010d}#{campaign_id}#{chunk:03d}",
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
        "pk": f"MSGID#{msgid}",
        "sk": MSGID_SK,
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
            TableName=_table(),
            Item=encode_item(item),
            ConditionExpression=condition,
            ExpressionAttributeValues=_values(**values),
            ReturnValues="ALL_OLD",
        )
    except Exception as exc:
        if not is_condition_failure(exc):
            raise
        return False, None
    old = answer.get("Attributes")
    return True, (_public(decode_item(old)) if old else None)


def get_msgid_owner(msgid: str) -> dict[str, Any] | None:
    """Which campaign chunk a msgid belongs to (None: not one of ours, or not linked yet)."""
    answer = client().get_item(
        TableName=_table(), Key=encode_item({"pk": f"MSGID#{msgid}", "sk": MSGID_SK}), ConsistentRead=True
    )
    return _public(decode_item(answer["Item"])) if "Item" in answer else None


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
        _update(
            _chunk_key(campaign_id, chunk),
            fields,
            removes=("gsi1pk", "gsi1sk", "errcode"),
            condition="attribute_exists(pk) AND (attribute_not_exists(msgid) OR msgid = :msgid)",
            values={"msgid": msgid},
        )
        is not None
    )


def unlink_chunk(campaign_id: str, chunk: int, msgid: str) -> None:
    """Undo a repair that guessed wrong (the msgid's real chunk claimed it): back to the orphan index."""
    current = _update(
        _chunk_key(campaign_id, chunk),
        {"state": "calling"},
        removes=("msgid", "sent_at", "linked_by", "fail_list_lost"),
        condition="msgid = :msgid AND linked_by = :repair",
        values={"msgid": msgid, "repair": "repair"},
        returns="ALL_NEW",
    )
    if current and current.get("fingerprint"):
        _update(
            _chunk_key(campaign_id, chunk),
            {
                "gsi1pk": f"ORPHAN#{current['fingerprint']}",
                "gsi1sk": f"{int(current['first_attempt_at']):010d}#{campaign_id}#{chunk:03d}",
            },
            condition="attribute_not_exists(msgid)",
        )


def record_chunk_failed(campaign_id: str, chunk: int, errcode: int, errmsg: str) -> bool:
    """WeCom refused the chunk outright (nothing was created): out of the orphan index, never retried."""
    return (
        _update(
            _chunk_key(campaign_id, chunk),
            {"state": "failed", "errcode": errcode, "errmsg": errmsg[:500]},
            removes=("gsi1pk", "gsi1sk"),
            condition="attribute_not_exists(msgid)",
        )
        is not None
    )


def unlinked_chunks(fingerprint: str, created_from: int, created_to: int) -> list[dict[str, Any]]:
    """Chunk intents with this content whose first call happened in [from, to] and that have no msgid yet."""
    answer = client().query(
        TableName=_table(),
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk AND gsi1sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues=_values(
            pk=f"ORPHAN#{fingerprint}", lo=f"{max(0, created_from):010d}", hi=f"{created_to:010d}#~"
        ),
    )
    return [_public(decode_item(item)) for item in answer.get("Items", [])]


# ----------------------------------------------------------------------------------------------- result sync
# Layout (docs/data-model.md, "Result sync"): the msgid registry item (``MSGID#{msgid}`` / ``MSGID``) is
# also the msgid's sync schedule (gsi3 ``DUE#SYNC`` by next sync time, present only while syncs are due);
# the msgid's partition holds one item per member (``MEMBER#{userid}``) and one per customer or group chat
# (``R#{userid}#{target}``). Aggregates sit on the campaign's chunk item (per msgid) and the campaign record.
DUE_SYNC = "DUE#SYNC"
MEMBER_PREFIX = "MEMBER#"
RESULT_PREFIX = "R#"
_BATCH_WRITE_MAX = 25
_BATCH_GET_MAX = 100


def msgid_pk(msgid: str) -> str:
    return f"MSGID#{msgid}"


def _msgid_key(msgid: str) -> dict[str, Any]:
    return encode_item({"pk": msgid_pk(msgid), "sk": MSGID_SK})


def sync_due_keys(at: int, msgid: str) -> dict[str, Any]:
    """The msgid's place in the sync due index (gsi3): by next sync time, oldest first."""
    return {"next_sync_at": int(at), "gsi3pk": DUE_SYNC, "gsi3sk": due_sk(at, msgid)}


def due_sync_msgids(
    now: int, limit: int, start: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Msgid items whose sync is due (gsi3 ``DUE#SYNC``, ``gsi3sk <= now``), oldest first; a page at a time
    (``start`` is the previous page's last ``gsi3sk``). The raw due key comes back as ``due_sk``."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "gsi3",
        "KeyConditionExpression": "gsi3pk = :pk AND gsi3sk BETWEEN :from AND :upto",
        "ExpressionAttributeValues": _values(
            pk=DUE_SYNC, upto=f"{int(now):010d}#~", **{"from": start or "0"}
        ),
        "ScanIndexForward": True,
        "Limit": limit,
    }
    answer = client().query(**request)
    rows = [decode_item(item) for item in answer.get("Items", [])]
    items = [{**_public(row), "due_sk": row["gsi3sk"]} for row in rows if row["gsi3sk"] != start]
    more = "LastEvaluatedKey" in answer and rows
    return items, (rows[-1]["gsi3sk"] if more else None)


def claim_msgid_sync(msgid: str, seen_due_sk: str, token: str, lease_until: int) -> bool:
    """Take a due msgid for one sync pass: the due key moves to the lease's end (so the next scheduled run
    does not queue it again while a worker holds it) and ``sync_token`` names the pass. False when another
    run took it first (its due key changed)."""
    return (
        _update(
            _msgid_key(msgid),
            {"sync_token": token, **sync_due_keys(lease_until, msgid)},
            condition="gsi3sk = :seen",
            values={"seen": seen_due_sk},
        )
        is not None
    )


def renew_msgid_sync(msgid: str, token: str, lease_until: int, checkpoint: dict[str, Any]) -> bool:
    """Save a pass's checkpoint (cursor, phase) and extend its lease; False when the pass is no longer ours."""
    return (
        _update(
            _msgid_key(msgid),
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
        _update(
            _msgid_key(msgid), sets, removes=removes, condition="sync_token = :token", values={"token": token}
        )
        is not None
    )


def mark_msgid_sync_due(msgid: str, at: int) -> bool:
    """Sync this msgid at the next scheduled run (after a reminder): only while its syncs are still due,
    and never later than it already was."""
    return (
        _update(
            _msgid_key(msgid),
            sync_due_keys(at, msgid),
            condition="gsi3pk = :due AND next_sync_at > :at AND attribute_not_exists(sync_token)",
            values={"due": DUE_SYNC, "at": int(at)},
        )
        is not None
    )


def msgid_items(msgids: list[str]) -> dict[str, dict[str, Any]]:
    """Msgid registry items by msgid (BatchGetItem, 100 keys a call); unknown msgids are absent."""
    found: dict[str, dict[str, Any]] = {}
    unique = list(dict.fromkeys(msgids))
    for start in range(0, len(unique), _BATCH_GET_MAX):
        keys = [_msgid_key(m) for m in unique[start : start + _BATCH_GET_MAX]]
        request = {_table(): {"Keys": keys, "ConsistentRead": True}}
        while request:
            answer = client().batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(_table(), []):
                row = _public(decode_item(item))
                found[row["msgid"]] = row
            request = answer.get("UnprocessedKeys") or {}
    return found


def sync_members(msgid: str) -> list[dict[str, Any]]:
    """Every member item of a msgid (one per member of the task: hundreds at most)."""
    return _query_all(msgid_pk(msgid), MEMBER_PREFIX)


def put_sync_member(msgid: str, member: dict[str, Any]) -> None:
    """Create or replace one member item (status, send_time, result counts, checkpoint)."""
    item = {"pk": msgid_pk(msgid), "sk": f"{MEMBER_PREFIX}{member['userid']}", "msgid": msgid, **member}
    client().put_item(TableName=_table(), Item=encode_item(item))


def result_prefix(userid: str | None) -> str:
    return RESULT_PREFIX if userid is None else f"{RESULT_PREFIX}{userid}#"


def member_results(msgid: str, userid: str) -> list[dict[str, Any]]:
    """The stored result rows of one member of a msgid (what the next diff compares against)."""
    return _query_all(msgid_pk(msgid), result_prefix(userid))


def write_results(msgid: str, rows: list[dict[str, Any]]) -> None:
    """Store result rows (new or changed only: the caller diffs), 25 per BatchWriteItem; unprocessed items
    (throttling) are retried with backoff until written, so nothing is silently dropped."""
    for start in range(0, len(rows), _BATCH_WRITE_MAX):
        batch = rows[start : start + _BATCH_WRITE_MAX]
        requests = [
            {
                "PutRequest": {
                    "Item": encode_item(
                        {
                            "pk": msgid_pk(msgid),
                            "sk": f"{RESULT_PREFIX}{row['userid']}#{row.get('external_userid') or row['chat_id']}",
                            **row,
                        }
                    )
                }
            }
            for row in batch
        ]
        _batch_write(requests)


def _batch_write(requests: list[dict[str, Any]]) -> None:
    pending = {_table(): requests}
    for attempt in range(10):
        answer = client().batch_write_item(RequestItems=pending)
        unprocessed = answer.get("UnprocessedItems") or {}
        if not unprocessed:
            return
        pending = unprocessed
        time.sleep(min(2.0, 0.05 * 2**attempt))
    raise RuntimeError("DynamoDB kept refusing result rows (throttled): the pass will be retried")


def record_chunk_totals(campaign_id: str, chunk: int, fields: dict[str, Any]) -> None:
    """Per-msgid aggregates on its chunk item (totals, members_unsent, first/last send time, rates)."""
    _update(_chunk_key(campaign_id, chunk), fields, condition="attribute_exists(pk)")


def record_campaign_totals(campaign_id: str, totals: dict[str, Any], now: int, complete: bool) -> bool:
    """The campaign's totals (sum of its msgids); ``complete`` also moves an ``active`` campaign to
    ``completed``. Answers whether the campaign became completed now."""
    sets: dict[str, Any] = {"totals": totals, "totals_synced_at": now}
    if not complete:
        _update(_campaign_key(campaign_id), sets, condition="attribute_exists(pk)")
        return False
    done = _update(
        _campaign_key(campaign_id),
        {**sets, **campaign_status_keys("completed"), "completed_at": now},
        condition="#st = :active",
        names={"#st": "status"},
        values={"active": "active"},
    )
    if done is None:
        _update(_campaign_key(campaign_id), sets, condition="attribute_exists(pk)")
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
                "TableName": _table(),
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
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": _values(pk=msgid_pk(msgid), prefix=result_prefix(userid)),
        "Limit": limit,
    }
    if status is not None:
        request["FilterExpression"] = "#st = :st"
        request["ExpressionAttributeNames"] = {"#st": "status"}
        request["ExpressionAttributeValues"][":st"] = encode(status)
    if start:
        request["ExclusiveStartKey"] = encode_item(start)
    answer = client().query(**request)
    rows = [_public(decode_item(item)) for item in answer.get("Items", [])]
    last = answer.get("LastEvaluatedKey")
    return rows, (decode_item(last) if last else None)


# --- cancel
def mark_campaign_cancelled(campaign_id: str, now: int) -> dict[str, Any] | None:
    """Any state but ``failed`` → ``cancelled``, out of the due index; answers the record as it was before
    (None when the campaign does not exist or failed). Idempotent: cancelling twice keeps the first time."""
    return _update(
        _campaign_key(campaign_id),
        {**campaign_status_keys("cancelled"), "cancelled_at": now},
        removes=("gsi3pk", "gsi3sk", "owner", "lease_until", "next_remind_at"),
        condition="attribute_exists(pk) AND #st <> :failed AND #st <> :cancelled",
        names={"#st": "status"},
        values={"failed": "failed", "cancelled": "cancelled"},
        returns="ALL_OLD",
    )


def mark_chunk_cancelled(campaign_id: str, chunk: int, now: int) -> None:
    _update(_chunk_key(campaign_id, chunk), {"cancelled_at": now}, condition="attribute_exists(pk)")


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
        _update(
            _campaign_key(campaign_id),
            sets,
            removes=removes,
            condition="next_remind_at = :expected AND gsi3pk = :due",
            values={"expected": expected_at, "due": DUE_REMIND},
        )
        is not None
    )


def stop_campaign_reminders(campaign_id: str, reason: str) -> None:
    """No more scheduled reminders (past stop_after, completed, nothing unsent): leave the due index."""
    _update(
        _campaign_key(campaign_id),
        {"reminders_stopped": reason},
        removes=("gsi3pk", "gsi3sk", "next_remind_at"),
        condition="gsi3pk = :due",
        values={"due": DUE_REMIND},
    )


def _slot_key(msgid: str, slot: int) -> dict[str, Any]:
    return encode_item({"pk": f"REMINDER#{msgid}", "sk": f"SLOT#{slot}"})


def reminder_slots(msgid: str) -> dict[int, dict[str, Any]]:
    """The msgid's reminder ledger: slot number → {at_ms, owner, trigger} (missing slots are empty)."""
    rows = _query_all(f"REMINDER#{msgid}", "SLOT#")
    return {int(row["slot"]): row for row in rows}


def claim_reminder_slot(
    msgid: str, slot: int, now_ms: int, owner: str, fields: dict[str, Any]
) -> dict[str, Any] | None:
    """Claim one of the msgid's slots if it is empty or its reminder is older than 24 h (conditional write:
    two claimers of one slot cannot both win). Answers the slot's previous values ({} when it was empty),
    or None when refused. ``expires_at`` lets TTL drop the ledger once it no longer constrains anything."""
    from wecom_bundle.reminder_policy import WINDOW_MS

    return _update(
        _slot_key(msgid, slot),
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
    _update(
        _slot_key(msgid, slot),
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
        "sk": f"EVENT#REMIND#{at_ms:013d}#{msgid}",
        "kind": "reminder",
        "msgid": msgid,
        "at": at_ms // 1000,
        "at_ms": at_ms,
        "trigger": trigger,
        "outcome": outcome,
    }
    client().put_item(TableName=_table(), Item=encode_item(item))


# ----------------------------------------------------------------------------------------------- media cache
# One item per (WeCom media kind, bucket, key): the WeCom id the object was last uploaded as, when, and the
# object's ETag then. Temporary media (image/video/file) sit in the due index (gsi1 ``MEDIA#DUE``, sorted by
# the time they should be refreshed); permanent image URLs (kind ``imgurl``) never do.
MEDIA_SK = "MEDIA"
MEDIA_DUE = "MEDIA#DUE"


def media_pk(kind: str, bucket: str, key: str) -> str:
    return f"MEDIA#{kind}#{bucket}#{key}"


def _media_key(kind: str, bucket: str, key: str) -> dict[str, Any]:
    return encode_item({"pk": media_pk(kind, bucket, key), "sk": MEDIA_SK})


def media_due_sk(refresh_at: int, kind: str, bucket: str, key: str) -> str:
    return f"{int(refresh_at):010d}#{media_pk(kind, bucket, key)}"


def get_media(kind: str, bucket: str, key: str) -> dict[str, Any] | None:
    """The cached WeCom id of one object (hot path: one GetItem when the container's copy is not fresh)."""
    answer = client().get_item(TableName=_table(), Key=_media_key(kind, bucket, key), ConsistentRead=True)
    return _public(decode_item(answer["Item"])) if "Item" in answer else None


def claim_media_upload(
    kind: str, bucket: str, key: str, owner: str, now: int, lease_until: int, stale_before: int
) -> bool:
    """Become the one uploader of an object (like the token lease): refused while another holds an unexpired
    lease, and when the cached id was created at or after ``stale_before`` (someone refreshed meanwhile)."""
    return (
        _update(
            _media_key(kind, bucket, key),
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
        _update(
            _media_key(kind, bucket, key),
            fields,
            removes=("lease_owner", "lease_until"),
            condition="attribute_not_exists(created_at) OR created_at <= :created",
            values={"created": fields["created_at"]},
        )
        is not None
    )


def release_media_lease(kind: str, bucket: str, key: str, owner: str) -> None:
    """Give the upload lease back after a failed upload so the next caller may try at once."""
    _update(
        _media_key(kind, bucket, key),
        {},
        removes=("lease_owner", "lease_until"),
        condition="lease_owner = :owner",
        values={"owner": owner},
    )


def expire_media(kind: str, bucket: str, key: str, media_id: str) -> None:
    """WeCom rejected this id (40007): mark it stale and due now, unless it was already replaced."""
    _update(
        _media_key(kind, bucket, key),
        {"created_at": 0, "gsi1sk": media_due_sk(0, kind, bucket, key)},
        condition="media_id = :mid",
        values={"mid": media_id},
    )


def due_media(upto: int, limit: int) -> list[dict[str, Any]]:
    """Cached temporary media whose refresh time is at or before ``upto``, oldest first (gsi1 MEDIA#DUE)."""
    return _due("gsi1", MEDIA_DUE, upto, limit)


def unindex_media(kind: str, bucket: str, key: str) -> None:
    """No content references the object any more: stop refreshing it (TTL removes the item later)."""
    _update(_media_key(kind, bucket, key), {}, removes=("gsi1pk", "gsi1sk"), condition="attribute_exists(pk)")
