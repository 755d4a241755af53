"""Keep every bucket reference that content may send fresh on WeCom, ahead of the 3-day expiry.

Why scheduled: a sender (above all the 20-second welcome) should never have to upload. ``MediaRefreshFunction``
runs every few hours and re-uploads each referenced object whose cached id is older than
``MEDIA_REFRESH_AFTER_SECONDS`` (or whose ETag changed: the object was replaced), so ids in use are always
younger than ``MEDIA_MAX_AGE_SECONDS``.

What is referenced comes from ``SOURCES``: one function per kind of content holder, each yielding attachment
lists in WeCom's shape (``[{"msgtype": t, t: {...}}]``) read by key Queries (no Scan). Cached items that no
source references any more are found through the due index (gsi1 ``MEDIA#DUE``) and dropped from it: they
stop being refreshed.

Content that WeCom itself stores with the ids we sent (group welcome templates) does not pick up a fresh id by
being sent again: after the uploads, each ``AFTER_REFRESH`` hook re-points its holder at the fresh ids and
answers counts for the run summary. Holders plug in through ``lazy_source``/``lazy_hook``; this module and
``media`` stay unaware of them.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from wecom_bundle import media, runtime, storage
from wecom_bundle.media import MediaRef, MediaUnavailable, Settings
from wecom_bundle.welcome import repo as welcome_repo

if TYPE_CHECKING:
    from wecom_bundle.wecom.client import WeComClient

logger = logging.getLogger(__name__)

AttachmentSource = Callable[[], Iterable[list[dict[str, Any]] | None]]
AfterRefresh = Callable[["WeComClient"], dict[str, int]]
DUE_PAGE = 100
PENDING_CAMPAIGN_STATUSES = ("scheduled", "creating")


def welcome_rule_attachments() -> Iterator[list[dict[str, Any]] | None]:
    """Every welcome rule (one small partition: Query ``pk = RULE``)."""
    for rule in welcome_repo.list_rules():
        yield rule.get("attachments")


def pending_campaign_attachments() -> Iterator[list[dict[str, Any]] | None]:
    """Campaigns whose tasks are still to be created (gsi2 by status), so their send finds fresh ids."""
    for status in PENDING_CAMPAIGN_STATUSES:
        cursor = None
        while True:
            page = storage.list_campaigns(status, limit=100, cursor=cursor)
            yield from (campaign.get("attachments") for campaign in page.items)
            if not (cursor := page.cursor):
                break


def lazy_source(module: str, function: str) -> AttachmentSource:
    """A source living in another module, imported only when the refresh runs (so the refresh's imports stay
    small and the holder's module may import ``media`` freely)."""

    def source() -> Iterable[list[dict[str, Any]] | None]:
        return getattr(importlib.import_module(module), function)()

    return source


def lazy_hook(module: str, function: str) -> AfterRefresh:
    """An ``AFTER_REFRESH`` hook living in another module, imported only when the refresh runs."""

    def hook(client: WeComClient) -> dict[str, int]:
        return getattr(importlib.import_module(module), function)(client)

    return hook


SOURCES: dict[str, AttachmentSource] = {
    "welcome_rules": welcome_rule_attachments,
    "campaigns": pending_campaign_attachments,
    "group_templates": lazy_source("wecom_bundle.group_template_media", "media_attachments"),
}
# Holders that WeCom stores with our ids: re-pointed at the fresh ids once the uploads are done.
AFTER_REFRESH: dict[str, AfterRefresh] = {
    "group_templates": lazy_hook("wecom_bundle.group_template_media", "refresh_media"),
}


def referenced(sources: dict[str, AttachmentSource] | None = None) -> set[MediaRef]:
    """Every bucket reference of every content holder."""
    refs: set[MediaRef] = set()
    for source in (SOURCES if sources is None else sources).values():
        for attachments in source():
            refs.update(media.refs_in(attachments))
    return refs


def run(budget_s: float | None = None, client: WeComClient | None = None) -> dict[str, int]:
    """One scheduled pass: refresh what is due, stop refreshing what nothing references, then let the
    ``AFTER_REFRESH`` hooks re-point stored content (even past the budget: a stored template whose id expires
    is broken for every new group, and its ids are due again only at the next run). Answers counts."""
    settings = Settings.from_env()
    client = client or runtime.wecom_client()
    stop_at = None if budget_s is None else time.monotonic() + budget_s
    refs = referenced()
    summary = {"referenced": len(refs), "fresh": 0, "refreshed": 0, "missing": 0, "failed": 0, "unindexed": 0}
    for ref in sorted(refs):
        if stop_at is not None and time.monotonic() > stop_at:
            break  # the rest is due again at the next run, still well inside the 3 days
        summary[refresh(ref, client, settings)] += 1
    summary["unindexed"] = _unindex_unreferenced(refs)
    for hook in AFTER_REFRESH.values():
        summary |= hook(client)
    if summary["missing"] or any(count for name, count in summary.items() if name.endswith("failed")):
        logger.warning("media refresh incomplete", extra=summary)
    return summary


def refresh(ref: MediaRef, client: WeComClient, settings: Settings) -> str:
    """Re-upload one object if its id is due or its content changed: fresh | refreshed | missing | failed."""
    from wecom_bundle import media_bucket

    now = int(media._now())
    head = media_bucket.head(ref.key)
    if head is None:
        logger.warning("referenced media object is missing", extra={"kind": ref.kind})
        return "missing"
    entry = media._stored(ref)
    changed = entry is not None and entry.etag != head.etag
    if entry is not None and not changed and media._fresh(ref, entry, now, settings.refresh_after_s):
        return "fresh"
    try:
        media.upload(ref, client, settings, stale_before=now + 1 if changed else None)
    except MediaUnavailable as exc:
        logger.warning("media refresh failed", extra={"kind": ref.kind, "reason": exc.reason})
        return "failed"
    return "refreshed"


def _unindex_unreferenced(refs: set[MediaRef]) -> int:
    from wecom_bundle.media_bucket import bucket_name

    bucket, dropped = bucket_name(), 0
    for item in storage.due_media(int(media._now()), DUE_PAGE):
        ref = MediaRef(str(item["kind"]), str(item["s3_key"]))
        if ref not in refs or item.get("bucket") != bucket:
            storage.unindex_media(ref.kind, str(item["bucket"]), ref.key)
            dropped += 1
    return dropped
