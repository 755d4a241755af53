"""The shared access token's DynamoDB access, one function per access pattern (see docs/data-model.md,
"Access token"): one record per token scope (corp + app secret digest) holding the token, the one refresher's
lease and the shared back-off after failed refreshes. ``token_store`` decides; this module only reads and
writes, each write conditional so containers racing for a refresh cannot overwrite each other.
"""

from __future__ import annotations

from typing import Any

from wecom_bundle.dynamo.client import client, is_condition_failure
from wecom_bundle.dynamo.codec import decode_item, encode_item
from wecom_bundle.dynamo.keys import token_key
from wecom_bundle.dynamo.table import expression_values, table_name, update


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
        " REMOVE lease_owner, lease_until_ms, refresh_backoff_until_ms, refresh_failures, setup_errcode,"
        " setup_errmsg",
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


def fail_token_refresh(
    scope: str, owner: str | None, backoff_until_ms: int, setup: tuple[int, str] | None = None
) -> None:
    """A gettoken call failed: nobody refreshes again before ``backoff_until_ms`` (shared by every container)
    and the consecutive-failure count grows. ``owner``: release our lease too (None: we refreshed without
    one, see token_store's last resort). ``setup``: (errcode, errmsg) of a setup refusal, which every caller
    gets at once until the back-off ends (a transient failure removes it)."""
    values: dict[str, Any] = {"until": backoff_until_ms, "zero": 0, "one": 1}
    update_expression = "SET refresh_backoff_until_ms = :until, refresh_failures = if_not_exists(refresh_failures, :zero) + :one"
    removes = ["setup_errcode", "setup_errmsg"]
    if setup is not None:
        update_expression += ", setup_errcode = :code, setup_errmsg = :msg"
        values.update(code=setup[0], msg=setup[1])
        removes = []
    if owner is not None:
        removes += ["lease_owner", "lease_until_ms"]
    request: dict[str, Any] = {
        "TableName": table_name(),
        "Key": encode_item(token_key(scope)),
        "UpdateExpression": update_expression + (" REMOVE " + ", ".join(removes) if removes else ""),
        "ExpressionAttributeValues": expression_values(**values),
    }
    if owner is not None:
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
