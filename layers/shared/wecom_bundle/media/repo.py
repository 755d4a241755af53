"""The media cache in DynamoDB: one function per access pattern (docs/data-model.md, "Media cache"), on the
shared ``dynamo`` plumbing. No function here scans.

One item per (WeCom media kind, bucket, key): the WeCom id the object was last uploaded as, when, and the
object's ETag then. Temporary media (image/video/file) sit in the due index (gsi1 ``MEDIA#DUE``, sorted by the
time they should be refreshed); permanent image URLs (kind ``imgurl``) never do.
"""

from __future__ import annotations

from typing import Any, Protocol

from wecom_bundle.dynamo.client import client
from wecom_bundle.dynamo.codec import decode_item, encode_item
from wecom_bundle.dynamo.keys import MEDIA_DUE, media_due_sk, media_key
from wecom_bundle.dynamo.table import due, public, table_name, update


def due_index(refresh_at: int, kind: str, bucket: str, key: str) -> dict[str, str]:
    """The due-index attributes of a cached temporary id (``store_media`` writes them with the upload)."""
    return {"gsi1pk": MEDIA_DUE, "gsi1sk": media_due_sk(refresh_at, kind, bucket, key)}


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


class MediaRepo(Protocol):
    """What the media cache and the refresh need of the table: this module satisfies it (the wiring passes
    the module); a test may pass a stand-in that counts or fails reads."""

    def due_index(self, refresh_at: int, kind: str, bucket: str, key: str) -> dict[str, str]: ...
    def get_media(self, kind: str, bucket: str, key: str) -> dict[str, Any] | None: ...
    def claim_media_upload(
        self, kind: str, bucket: str, key: str, owner: str, now: int, lease_until: int, stale_before: int
    ) -> bool: ...
    def store_media(self, kind: str, bucket: str, key: str, fields: dict[str, Any]) -> bool: ...
    def release_media_lease(self, kind: str, bucket: str, key: str, owner: str) -> None: ...
    def expire_media(self, kind: str, bucket: str, key: str, media_id: str) -> None: ...
    def due_media(self, upto: int, limit: int) -> list[dict[str, Any]]: ...
    def unindex_media(self, kind: str, bucket: str, key: str) -> None: ...
