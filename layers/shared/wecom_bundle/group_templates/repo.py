"""The group welcome template mirror in DynamoDB: one function per access pattern (docs/data-model.md,
"Group welcome templates"), on the shared ``dynamo`` plumbing. No function here scans.

Layout: one small partition (WeCom caps a corp at 100 templates) holds the mirror records and the intents
written before each ``add``. The intent exists because WeCom has no "list templates" call: without it, an add
whose mirror write failed would leave a template in WeCom that nobody can find again.
"""

from __future__ import annotations

from typing import Any, Protocol

from wecom_bundle.dynamo.client import client
from wecom_bundle.dynamo.codec import decode_item, encode_item
from wecom_bundle.dynamo.keys import (
    GROUP_TEMPLATE_PK,
    INTENT_PREFIX,
    TEMPLATE_PREFIX,
    group_template_intent_key,
    group_template_key,
)
from wecom_bundle.dynamo.table import public, query_all, table_name, transact, update


def put_group_template_intent(intent: dict[str, Any]) -> None:
    """Record an ``add`` about to be sent to WeCom (its content, time; no template id yet)."""
    item = {**group_template_intent_key(intent["intent_id"]), **intent}
    client().put_item(
        TableName=table_name(), Item=encode_item(item), ConditionExpression="attribute_not_exists(pk)"
    )


def record_group_template_added(intent_id: str, template: dict[str, Any]) -> None:
    """The mirror record of a template WeCom created, and the end of its intent, in one transaction."""
    record = {**group_template_key(template["template_id"]), **template}
    transact(
        [
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


class TemplateRepo(Protocol):
    """What the group template services need of the mirror: this module satisfies it (the wiring passes the
    module); a test may pass a stand-in, e.g. one whose writes fail."""

    def put_group_template_intent(self, intent: dict[str, Any]) -> None: ...
    def record_group_template_added(self, intent_id: str, template: dict[str, Any]) -> None: ...
    def note_group_template_intent_id(self, intent_id: str, template_id: str) -> None: ...
    def delete_group_template_intent(self, intent_id: str) -> None: ...
    def group_template_intents(self) -> list[dict[str, Any]]: ...
    def put_group_template(self, template: dict[str, Any]) -> None: ...
    def get_group_template(self, template_id: str) -> dict[str, Any] | None: ...
    def list_group_templates(self) -> list[dict[str, Any]]: ...
    def note_group_template_media(
        self, template_id: str, wecom_media: dict[str, Any], seen_updated_at_ms: int | None, now_ms: int
    ) -> bool: ...
    def note_group_template_media_error(self, template_id: str, error: dict[str, Any]) -> None: ...
    def delete_group_template(self, template_id: str) -> bool: ...
