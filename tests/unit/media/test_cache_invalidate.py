"""A media id WeCom rejected (40007) is never served again by the container that learnt it.

Why: ``invalidate`` expires the id in DynamoDB, and that write takes time. A reader of the same container that
reads the stored item in that gap still sees the rejected id; unless it is marked rejected in memory first, the reader
serves it and caches it again, and the retry after the 40007 sends the same rejected id (the token store has
the same guard). The reader in the gap is driven from inside the repository's expiry, so the interleaving is forced.
"""

from __future__ import annotations

from typing import Any

import pytest

from wecom_bundle.media.cache import MediaCache, MediaRef, MediaUnavailable, Settings

REF = MediaRef("image", "welcome/banner.png")
IMAGE = [{"msgtype": "image", "image": {"s3_key": REF.key}}]
SETTINGS = Settings(refresh_after_s=100, max_age_s=200, upload_min_s=2.5)
NO_TIME = 0.0  # a reader that may not upload: it either finds a usable id or gives up


class SlowExpiryRepo:
    """One stored id; its expiry runs ``during_expiry`` before the write lands (the reader in the gap)."""

    def __init__(self) -> None:
        self.item: dict[str, Any] = {"media_id": "m1", "created_at": 1_000, "etag": "e1"}
        self.during_expiry: Any = None

    def get_media(self, kind: str, bucket: str, key: str) -> dict[str, Any]:  # noqa: ARG002
        return dict(self.item)

    def expire_media(self, kind: str, bucket: str, key: str, media_id: str) -> None:  # noqa: ARG002
        if self.during_expiry is not None:
            self.during_expiry()
        if self.item.get("media_id") == media_id:
            self.item = {"created_at": self.item["created_at"]}


class FakeBucket:
    @staticmethod
    def bucket_name() -> str:
        return "test-media"


def _resolve(cache: MediaCache) -> dict[MediaRef, str]:
    return cache.resolve_attachments(IMAGE, client=None, time_left=lambda: NO_TIME).used  # type: ignore[arg-type]


def test_a_reader_in_the_expiry_gap_neither_gets_nor_caches_the_rejected_id() -> None:
    repo = SlowExpiryRepo()
    cache = MediaCache(repo=repo, bucket=FakeBucket(), clock=lambda: 1_000, settings=lambda: SETTINGS)
    assert _resolve(cache) == {REF: "m1"}  # cached in memory
    seen_in_gap: list[object] = []

    def reader_in_the_gap() -> None:
        try:
            seen_in_gap.append(_resolve(cache))
        except MediaUnavailable as exc:
            seen_in_gap.append(exc.reason)

    repo.during_expiry = reader_in_the_gap
    cache.invalidate(REF, "m1")

    assert seen_in_gap == ["no_budget"]  # the stored item still said m1: not served
    with pytest.raises(MediaUnavailable):
        _resolve(cache)  # and not cached again: the next resolve must upload


def test_a_newer_id_is_served_after_a_rejection() -> None:
    repo = SlowExpiryRepo()
    cache = MediaCache(repo=repo, bucket=FakeBucket(), clock=lambda: 1_000, settings=lambda: SETTINGS)
    cache.invalidate(REF, "m1")
    repo.item = {"media_id": "m2", "created_at": 1_000, "etag": "e2"}  # another container re-uploaded
    assert _resolve(cache) == {REF: "m2"}
