"""The channel items in DynamoDB: one function per access pattern (docs/data-model.md, "Channel"), on the
shared ``dynamo`` plumbing. No function here scans.

Every write that can race is conditional: the intent is created only where no item exists (two PUTs of a
new id: one ``add_contact_way``), a stale intent is taken over only as it was read (``updated_at_ms``), a
record becomes active only while it has no ``config_id``, and an update replaces only the version it read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from wecom_bundle.channels.model import GONE, PENDING
from wecom_bundle.dynamo.client import client, is_condition_failure
from wecom_bundle.dynamo.codec import decode_item, encode_item
from wecom_bundle.dynamo.keys import CHANNEL_PK, CHANNEL_PREFIX, channel_key
from wecom_bundle.dynamo.table import Page, public, query_all, query_page, table_name, update

if TYPE_CHECKING:
    from wecom_bundle.channels.model import ChannelItem


def _put(item: ChannelItem, condition: str, values: dict[str, Any] | None = None) -> bool:
    """A conditional PutItem; False when the condition failed (a lost race), faults raised."""
    request: dict[str, Any] = {
        "TableName": table_name(),
        "Item": encode_item({**channel_key(item["channel_id"]), **item}),
        "ConditionExpression": condition,
    }
    if values:
        request["ExpressionAttributeValues"] = encode_item(values)
    try:
        client().put_item(**request)
    except Exception as exc:
        if not is_condition_failure(exc):
            raise
        return False
    return True


def put_channel_intent(intent: ChannelItem) -> bool:
    """Before ``add_contact_way``: the channel as asked, status pending, no config id. False when an item
    with that id exists already (another PUT got there first)."""
    return _put(intent, "attribute_not_exists(pk)")


def claim_channel_intent(channel_id: str, seen_updated_at_ms: int, now_ms: int) -> bool:
    """Take over a pending intent nobody works on (as it was read: ``updated_at_ms``), so one caller repairs
    or re-sends it. False when someone else changed it first."""
    answer = update(
        encode_item(channel_key(channel_id)),
        {"updated_at_ms": now_ms},
        condition="#st = :pending AND updated_at_ms = :seen AND attribute_not_exists(config_id)",
        names={"#st": "status"},
        values={"pending": PENDING, "seen": seen_updated_at_ms},
        returns="UPDATED_NEW",
    )
    return answer is not None


def release_channel_intent(channel_id: str, mine_updated_at_ms: int) -> None:
    """``add`` was never sent or was answered with an HTTP error: mark the intent free at once
    (``updated_at_ms`` 0), so the next PUT or reconcile looks for the code WeCom may hold instead of waiting
    out the grace period."""
    update(
        encode_item(channel_key(channel_id)),
        {"updated_at_ms": 0},
        condition="#st = :pending AND updated_at_ms = :mine AND attribute_not_exists(config_id)",
        names={"#st": "status"},
        values={"pending": PENDING, "mine": mine_updated_at_ms},
    )


def hold_channel_intent(channel_id: str, mine_updated_at_ms: int, now_ms: int) -> None:
    """WeCom may still answer ``add``: the intent's lease starts again at ``now_ms`` (only while it is still
    the one this caller sent), so no other PUT adds a second code meanwhile."""
    update(
        encode_item(channel_key(channel_id)),
        {"updated_at_ms": now_ms},
        condition="#st = :pending AND updated_at_ms = :mine AND attribute_not_exists(config_id)",
        names={"#st": "status"},
        values={"pending": PENDING, "mine": mine_updated_at_ms},
    )


def drop_channel_intent(channel_id: str) -> None:
    """WeCom refused the ``add``: nothing was created, the intent goes (only while it is still one)."""
    try:
        client().delete_item(
            TableName=table_name(),
            Key=encode_item(channel_key(channel_id)),
            ConditionExpression="#st = :pending AND attribute_not_exists(config_id)",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=encode_item({":pending": PENDING}),
        )
    except Exception as exc:
        if not is_condition_failure(exc):
            raise


def activate_channel(record: ChannelItem) -> bool:
    """The intent becomes the channel WeCom holds (``config_id``, ``qr_code``, status active), only while no
    code is recorded for it. False when another writer recorded one first."""
    return _put(record, "attribute_exists(pk) AND attribute_not_exists(config_id)")


def replace_channel(record: ChannelItem, seen_updated_at_ms: int) -> bool:
    """A later PUT's record, only over the version it read (False: a concurrent PUT changed it)."""
    return _put(record, "updated_at_ms = :seen", {":seen": seen_updated_at_ms})


def import_channel(record: ChannelItem) -> bool:
    """Reconcile's import of a code WeCom holds with a state we do not know (False: the id exists now)."""
    return _put(record, "attribute_not_exists(pk)")


def mark_channel_gone(channel_id: str, config_id: str, now_ms: int) -> bool:
    """Reconcile found that WeCom no longer has this code (only while the record still names it)."""
    answer = update(
        encode_item(channel_key(channel_id)),
        {"status": GONE, "updated_at_ms": now_ms},
        condition="config_id = :cid",
        values={"cid": config_id},
        returns="UPDATED_NEW",
    )
    return answer is not None


def get_channel(channel_id: str) -> ChannelItem | None:
    answer = client().get_item(
        TableName=table_name(), Key=encode_item(channel_key(channel_id)), ConsistentRead=True
    )
    return cast("ChannelItem", public(decode_item(answer["Item"]))) if "Item" in answer else None


def delete_channel(channel_id: str) -> bool:
    """Remove the item; answer whether it existed."""
    answer = client().delete_item(
        TableName=table_name(), Key=encode_item(channel_key(channel_id)), ReturnValues="ALL_OLD"
    )
    return "Attributes" in answer


def list_channels(limit: int, cursor: str | None) -> Page:
    """One page of channels by id (the admin listing); ``cursor`` is the previous page's."""
    return query_page(CHANNEL_PK, CHANNEL_PREFIX, limit=limit, cursor=cursor)


def all_channels() -> list[ChannelItem]:
    """Every channel (reconcile: compared with every code WeCom holds)."""
    return cast("list[ChannelItem]", query_all(CHANNEL_PK, CHANNEL_PREFIX))


class ChannelRepo(Protocol):
    """What the channel services need of the table: this module satisfies it (the wiring passes the module);
    a test may pass a stand-in, e.g. one whose write after WeCom's answer fails."""

    def put_channel_intent(self, intent: ChannelItem) -> bool: ...
    def claim_channel_intent(self, channel_id: str, seen_updated_at_ms: int, now_ms: int) -> bool: ...
    def release_channel_intent(self, channel_id: str, mine_updated_at_ms: int) -> None: ...
    def hold_channel_intent(self, channel_id: str, mine_updated_at_ms: int, now_ms: int) -> None: ...
    def drop_channel_intent(self, channel_id: str) -> None: ...
    def activate_channel(self, record: ChannelItem) -> bool: ...
    def replace_channel(self, record: ChannelItem, seen_updated_at_ms: int) -> bool: ...
    def import_channel(self, record: ChannelItem) -> bool: ...
    def mark_channel_gone(self, channel_id: str, config_id: str, now_ms: int) -> bool: ...
    def get_channel(self, channel_id: str) -> ChannelItem | None: ...
    def delete_channel(self, channel_id: str) -> bool: ...
    def list_channels(self, limit: int, cursor: str | None) -> Page: ...
    def all_channels(self) -> list[ChannelItem]: ...
