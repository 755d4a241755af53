"""Keep every bucket reference that content may send fresh on WeCom, ahead of the 3-day expiry.

Why scheduled: a sender (above all the 20-second welcome) should never have to upload. ``MediaRefreshFunction``
runs every few hours and re-uploads each referenced object whose cached id is older than
``MEDIA_REFRESH_AFTER_SECONDS`` (or whose ETag changed: the object was replaced), so ids in use are always
younger than ``MEDIA_MAX_AGE_SECONDS``.

What is referenced comes from the refresh's ``sources``: one function per kind of content holder, each
yielding attachment lists in WeCom's shape (``[{"msgtype": t, t: {...}}]``) read by key Queries (no Scan).
Cached items that no source references any more are found through the due index (gsi1 ``MEDIA#DUE``) and
dropped from it: they stop being refreshed.

Content that WeCom itself stores with the ids we sent (group welcome templates) does not pick up a fresh id by
being sent again: after the uploads, each ``after_refresh`` hook re-points its holder at the fresh ids and
answers counts for the run summary. The holders are passed in by the wiring (``runtime.media_refresh``), so
this module and ``media.cache`` import none of them and no holder has to import this module: no cycle, and no
module named by a string.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wecom_bundle.media.cache import MediaCache, MediaRef, MediaUnavailable, Settings, refs_in

if TYPE_CHECKING:
    from wecom_bundle.dynamo.table import Page
    from wecom_bundle.wecom.client import WeComClient

logger = logging.getLogger(__name__)

Attachments = list[dict[str, Any]] | None
AttachmentSource = Callable[[], Iterable[Attachments]]
AfterRefresh = Callable[["WeComClient"], dict[str, int]]
DUE_PAGE = 100
PENDING_CAMPAIGN_STATUSES = ("scheduled", "creating")


def rule_attachments(list_rules: Callable[[], list[dict[str, Any]]]) -> AttachmentSource:
    """The source of welcome rules: every rule (one small partition: Query ``pk = RULE``)."""

    def source() -> Iterator[Attachments]:
        for rule in list_rules():
            yield rule.get("attachments")

    return source


def pending_campaign_attachments(list_campaigns: Callable[..., Page]) -> AttachmentSource:
    """The source of campaigns whose tasks are still to be created (gsi2 by status), so their send finds
    fresh ids. ``list_campaigns(status, limit=, cursor=)`` pages one status."""

    def source() -> Iterator[Attachments]:
        for status in PENDING_CAMPAIGN_STATUSES:
            cursor = None
            while True:
                page = list_campaigns(status, limit=100, cursor=cursor)
                yield from (campaign.get("attachments") for campaign in page.items)
                if not (cursor := page.cursor):
                    break

    return source


@dataclass(frozen=True)
class MediaRefresh:
    """One scheduled refresh with its collaborators: the content holders' ``sources`` (name → source), the
    ``after_refresh`` hooks of holders that WeCom stores with our ids, the WeCom client and the container's
    media cache (its clock, repository and bucket)."""

    sources: Mapping[str, AttachmentSource]
    after_refresh: Mapping[str, AfterRefresh]
    wecom: Callable[[], WeComClient]
    cache: MediaCache

    def referenced(self) -> set[MediaRef]:
        """Every bucket reference of every content holder."""
        refs: set[MediaRef] = set()
        for source in self.sources.values():
            for attachments in source():
                refs.update(refs_in(attachments))
        return refs

    def run(self, budget_s: float | None = None) -> dict[str, int]:
        """One scheduled pass: refresh what is due, stop refreshing what nothing references, then let the
        ``after_refresh`` hooks re-point stored content (even past the budget: a stored template whose id
        expires is broken for every new group, and its ids are due again only at the next run). Answers
        counts."""
        settings = self.cache.settings()
        client = self.wecom()
        stop_at = None if budget_s is None else time.monotonic() + budget_s
        refs = self.referenced()
        summary = dict.fromkeys(("fresh", "refreshed", "missing", "failed", "unindexed"), 0)
        summary = {"referenced": len(refs), **summary}
        for ref in sorted(refs):
            if stop_at is not None and time.monotonic() > stop_at:
                break  # the rest is due again at the next run, still well inside the 3 days
            summary[refresh(self.cache, ref, client, settings)] += 1
        summary["unindexed"] = _unindex_unreferenced(self.cache, refs)
        for hook in self.after_refresh.values():
            summary |= hook(client)
        if summary["missing"] or any(count for name, count in summary.items() if name.endswith("failed")):
            logger.warning("media refresh incomplete", extra=summary)
        return summary


def refresh(cache: MediaCache, ref: MediaRef, client: WeComClient, settings: Settings) -> str:
    """Re-upload one object if its id is due or its content changed: fresh | refreshed | missing | failed."""
    now = cache.now()
    head = cache.bucket.head(ref.key)
    if head is None:
        logger.warning("referenced media object is missing", extra={"kind": ref.kind})
        return "missing"
    entry = cache.stored_entry(ref)
    changed = entry is not None and entry.etag != head.etag
    if entry is not None and not changed and cache.is_fresh(ref, entry, now, settings.refresh_after_s):
        return "fresh"
    try:
        cache.upload(ref, client, settings, stale_before=now + 1 if changed else None)
    except MediaUnavailable as exc:
        logger.warning("media refresh failed", extra={"kind": ref.kind, "reason": exc.reason})
        return "failed"
    return "refreshed"


def _unindex_unreferenced(cache: MediaCache, refs: set[MediaRef]) -> int:
    bucket, dropped = cache.bucket.bucket_name(), 0
    for item in cache.repo.due_media(cache.now(), DUE_PAGE):
        ref = MediaRef(str(item["kind"]), str(item["s3_key"]))
        if ref not in refs or item.get("bucket") != bucket:
            cache.repo.unindex_media(ref.kind, str(item["bucket"]), ref.key)
            dropped += 1
    return dropped
