"""Bucket references → WeCom media ids: upload when first needed, cache, and re-upload before the 3-day expiry.

WeCom's temporary ``media_id`` (``media/upload``) dies after 3 days, so content that names a bucket object
(``s3_key`` / ``pic_s3_key``, see ``content``) is resolved at send time through a cache:

- this container's memory (one ``MediaCache`` per container, built by ``runtime.media_cache``), then the
  DynamoDB item of the object (``media.repo``);
- an id older than ``MEDIA_REFRESH_AFTER_SECONDS`` (default 2.5 days) is due: ``MediaRefreshFunction``
  re-uploads it ahead of time, so senders normally never upload;
- a sender uploads only when the cached id is missing or older than ``MEDIA_MAX_AGE_SECONDS`` (default
  3 days − 2 h), and only if its time budget allows (``time_left``; the welcome path passes its deadline);
- one uploader per object at a time (a DynamoDB lease, like the access token); correctness first: whoever
  cannot get the lease and has no usable id uploads anyway;
- WeCom answering 40007 for an id we sent: ``invalidate`` it, resolve again (a fresh upload), retry once.

``pic_s3_key`` of an image becomes a permanent ``pic_url`` (``media/uploadimg``), cached forever (until the
object's ETag changes). Any content holder (welcome rules, campaigns, group templates) receives the
container's ``MediaCache`` and calls its ``resolve_attachments`` with WeCom-shaped attachments; the refresh's
sources tell it what to keep fresh.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wecom_bundle import config
from wecom_bundle.media import repo as media_repo

if TYPE_CHECKING:
    from wecom_bundle.media.bucket import Bucket
    from wecom_bundle.media.repo import MediaRepo
    from wecom_bundle.wecom.client import WeComClient

logger = logging.getLogger(__name__)

MEDIA_TTL_S = 3 * 86400
URL_KIND = "imgurl"  # media/uploadimg: a permanent image URL
# (msgtype, reference field) → (kind of WeCom media, field WeCom reads)
SLOTS = {
    ("image", "s3_key"): ("image", "media_id"),
    ("image", "pic_s3_key"): (URL_KIND, "pic_url"),
    ("video", "s3_key"): ("video", "media_id"),
    ("file", "s3_key"): ("file", "media_id"),
    ("miniprogram", "pic_s3_key"): ("image", "pic_media_id"),
}
LEASE_S = 30
WAIT_STEP_S = 0.1
CACHE_RETENTION_S = 30 * 86400  # TTL of a cache item nobody refreshes any more

TimeLeft = Callable[[], float]
Clock = Callable[[], float]  # epoch seconds


@dataclass(frozen=True, order=True)
class MediaRef:
    kind: str  # image | video | file | imgurl
    key: str


@dataclass(frozen=True)
class Settings:
    refresh_after_s: int  # due for the scheduled refresh
    max_age_s: int  # a sender uploads rather than send an id this old
    upload_min_s: float  # a sender uploads only with at least this much time left

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            refresh_after_s=config.env_int("MEDIA_REFRESH_AFTER_SECONDS", 216_000),
            max_age_s=config.env_int("MEDIA_MAX_AGE_SECONDS", MEDIA_TTL_S - 7200),
            upload_min_s=config.env_int("MEDIA_UPLOAD_MIN_BUDGET_MS", 2500) / 1000,
        )


class MediaUnavailable(Exception):
    """No usable WeCom id for a reference (object missing, no time to upload, upload failed)."""

    def __init__(self, ref: MediaRef, reason: str) -> None:
        super().__init__(f"{ref.kind} {ref.key}: {reason}")
        self.ref = ref
        self.reason = reason  # missing_object | no_budget | upload_failed


@dataclass
class Resolution:
    """WeCom-ready attachments, the ids used per reference (to invalidate on 40007), what was dropped."""

    attachments: list[dict[str, Any]]
    used: dict[MediaRef, str] = field(default_factory=dict)
    dropped: list[MediaUnavailable] = field(default_factory=list)
    uploaded_at: dict[MediaRef, int] = field(default_factory=dict)  # creation time of each id used


@dataclass(frozen=True)
class CachedId:
    """One object's WeCom id (or permanent URL), when it was created, and the object's ETag then."""

    media_id: str
    created_at: int
    etag: str


# ----------------------------------------------------------------------------------------------- references
def slots_in(attachments: Iterable[dict[str, Any]] | None) -> list[tuple[int, str, str, MediaRef]]:
    """Every bucket reference in WeCom-shaped attachments (``[{"msgtype": t, t: {...}}]``), in order, with
    where it sits: (index of the attachment, msgtype, reference field, reference)."""
    found = []
    for index, attachment in enumerate(attachments or []):
        msgtype = attachment.get("msgtype")
        body = attachment.get(msgtype) if isinstance(msgtype, str) else None
        for (slot_type, ref_field), (kind, _) in SLOTS.items():
            if slot_type == msgtype and isinstance(body, dict) and body.get(ref_field):
                found.append((index, str(msgtype), ref_field, MediaRef(kind, str(body[ref_field]))))
    return found


def refs_in(attachments: Iterable[dict[str, Any]] | None) -> list[MediaRef]:
    """Every bucket reference in WeCom-shaped attachments, in order."""
    return [ref for *_, ref in slots_in(attachments)]


FieldNamer = Callable[[int, str, str], str]  # (index, msgtype, reference field) → the field an error names


def is_fresh(ref: MediaRef, entry: CachedId, now: int, max_age_s: int) -> bool:
    """Younger than ``max_age_s`` (a permanent image URL always is)."""
    return ref.kind == URL_KIND or now - entry.created_at < max_age_s


class MediaCache:
    """The container's media cache with its collaborators: the DynamoDB ``repo`` (``media.repo``), the
    ``bucket`` (``media.bucket``, imported on first use: the welcome path reads S3 only to re-upload), the
    ``clock`` (epoch seconds) and ``settings`` (read per call: the environment may change them).

    Why an object: its memory is per container, so ``runtime.media_cache`` builds one and hands it to every
    user (welcome, campaigns, group templates, the refresh); a test builds one on the simulator's clock
    instead of patching a module.
    """

    refs_in = staticmethod(refs_in)
    is_fresh = staticmethod(is_fresh)

    def __init__(
        self,
        repo: MediaRepo = media_repo,
        bucket: Bucket | None = None,
        clock: Clock = time.time,
        settings: Callable[[], Settings] = Settings.from_env,
    ) -> None:
        self.repo = repo
        self._bucket: Bucket | None = bucket
        self.clock = clock
        self.settings = settings
        self._memory: dict[MediaRef, CachedId] = {}
        # Ids WeCom rejected (40007) in this container, per reference: never served or cached again, even
        # when a read of DynamoDB that started before the rejection's expiry returns one (a race the token
        # store had too: the rejected value cached again by a reader in the gap, and the retry sent it).
        self._rejected: dict[MediaRef, str] = {}
        self._lock = threading.Lock()

    @property
    def bucket(self) -> Bucket:
        """The bucket module (``media.bucket`` unless one was passed), imported when first needed."""
        if self._bucket is None:
            from wecom_bundle.media import bucket

            self._bucket = bucket
        return self._bucket

    def now(self) -> int:
        """The cache's clock, for users that compare ages with cached ids."""
        return int(self.clock())

    def forget(self) -> None:
        """Forget this container's memory (a cold start: ``runtime.reset_client`` calls this)."""
        with self._lock:
            self._memory.clear()
            self._rejected.clear()

    # ------------------------------------------------------------------------------------------- on write
    def check_exist(
        self, attachments: Iterable[dict[str, Any]] | None, field: FieldNamer | None = None
    ) -> None:
        """On write: every referenced object must be in the bucket (a 400 now beats a broken welcome later).
        ``field`` names the offending field in the error (default: ``attachments``)."""
        from wecom_bundle.validation import ValidationError

        checked: set[MediaRef] = set()
        for index, msgtype, ref_field, ref in slots_in(attachments):
            if ref in checked:
                continue
            checked.add(ref)
            if self.bucket.head(ref.key) is None:
                name = field(index, msgtype, ref_field) if field else "attachments"
                raise ValidationError(name, f"s3 object {ref.key!r} does not exist in the media bucket")

    def warm(self, attachments: Iterable[dict[str, Any]] | None, client: WeComClient) -> None:
        """Upload what is not cached yet right after content is saved, so its first send finds a fresh id.
        Best effort: a failure here is retried by the next send or the scheduled refresh."""
        settings = self.settings()
        for ref in sorted(set(refs_in(attachments))):
            try:
                self.media_id_for(ref, client, settings)
            except MediaUnavailable as exc:
                logger.warning("media warm-up failed", extra={"kind": ref.kind, "reason": exc.reason})

    # ------------------------------------------------------------------------------------------- resolving
    def resolve_attachments(
        self,
        attachments: list[dict[str, Any]] | None,
        client: WeComClient,
        *,
        time_left: TimeLeft | None = None,
        drop_unavailable: bool = False,
        settings: Settings | None = None,
    ) -> Resolution:
        """Replace bucket references with WeCom ids. ``time_left`` (seconds, None: unbounded) gates uploads.

        An attachment whose reference cannot be resolved is dropped when ``drop_unavailable`` (the welcome
        path: a welcome without that file beats no welcome), else ``MediaUnavailable`` is raised (campaigns
        retry). ``settings`` (default: the cache's) lets a holder that keeps ids for long (a group welcome
        template stored in WeCom) accept only younger ids.
        """
        settings = settings or self.settings()
        out = Resolution([])
        for attachment in attachments or []:
            try:
                out.attachments.append(self._resolve_one(attachment, client, settings, time_left, out))
            except MediaUnavailable as exc:
                if not drop_unavailable:
                    raise
                out.dropped.append(exc)
        return out

    def _resolve_one(
        self,
        attachment: dict[str, Any],
        client: WeComClient,
        settings: Settings,
        time_left: TimeLeft | None,
        out: Resolution,
    ) -> dict[str, Any]:
        msgtype = str(attachment.get("msgtype"))
        body = dict(attachment.get(msgtype) or {})
        for (slot_type, ref_field), (kind, wecom_field) in SLOTS.items():
            if slot_type != msgtype or not body.get(ref_field):
                continue
            ref = MediaRef(kind, str(body.pop(ref_field)))
            if ref not in out.used:
                entry = self._entry_for(ref, client, settings, time_left)
                out.used[ref], out.uploaded_at[ref] = entry.media_id, entry.created_at
            body[wecom_field] = out.used[ref]
        return {"msgtype": msgtype, msgtype: body}

    def media_id_for(
        self, ref: MediaRef, client: WeComClient, settings: Settings, time_left: TimeLeft | None = None
    ) -> str:
        """A usable WeCom id (or URL) for ``ref``: memory, then DynamoDB, then an upload if time allows."""
        return self._entry_for(ref, client, settings, time_left).media_id

    def _entry_for(
        self, ref: MediaRef, client: WeComClient, settings: Settings, time_left: TimeLeft | None
    ) -> CachedId:
        now = self.now()
        entry = self._memory.get(ref)
        if entry and is_fresh(ref, entry, now, min(settings.refresh_after_s, settings.max_age_s)):
            return entry
        entry = self.stored_entry(ref)
        if entry and is_fresh(ref, entry, now, settings.max_age_s):
            self._remember(ref, entry)
            return entry
        if time_left is not None and time_left() < settings.upload_min_s:
            raise MediaUnavailable(ref, "no_budget")
        return self.upload(ref, client, settings, time_left=time_left)

    def stored_entry(self, ref: MediaRef) -> CachedId | None:
        """The id DynamoDB holds for ``ref`` (None: never uploaded, or expired by a 40007)."""
        item = self.repo.get_media(ref.kind, self.bucket.bucket_name(), ref.key)
        if not item or not item.get("media_id") or self._rejected.get(ref) == item["media_id"]:
            return None
        return CachedId(str(item["media_id"]), int(item.get("created_at") or 0), str(item.get("etag") or ""))

    def _remember(self, ref: MediaRef, entry: CachedId) -> None:
        with self._lock:
            if self._rejected.get(ref) == entry.media_id:
                return  # read before the rejection expired it: never cache it again
            self._rejected.pop(ref, None)  # a newer id: the rejected one cannot come back
            self._memory[ref] = entry

    def invalidate(self, ref: MediaRef, media_id: str) -> None:
        """WeCom rejected ``media_id`` (40007): forget it here and in DynamoDB so the next resolve uploads.
        It is marked rejected first, so no reader of this container serves or caches it again meanwhile."""
        with self._lock:
            self._rejected[ref] = media_id
            if (entry := self._memory.get(ref)) and entry.media_id == media_id:
                del self._memory[ref]
        self.repo.expire_media(ref.kind, self.bucket.bucket_name(), ref.key, media_id)

    # ------------------------------------------------------------------------------------------- uploading
    def upload(
        self,
        ref: MediaRef,
        client: WeComClient,
        settings: Settings,
        *,
        time_left: TimeLeft | None = None,
        stale_before: int | None = None,
    ) -> CachedId:
        """Read the object and upload it to WeCom under a lease; publish the id. ``stale_before``: ids
        created before it are replaced (default: older than the refresh age); a newer one found meanwhile is
        used."""
        bucket, now, owner = self.bucket.bucket_name(), self.now(), uuid.uuid4().hex
        stale = now - settings.refresh_after_s if stale_before is None else stale_before
        leased = self.repo.claim_media_upload(ref.kind, bucket, ref.key, owner, now, now + LEASE_S, stale)
        if not leased and (current := self._await_other(ref, stale, settings, time_left)):
            self._remember(ref, current)
            return current  # another container has just refreshed it
        try:
            entry = self._upload_object(ref, client, time_left)
        except BaseException:
            if leased:
                self.repo.release_media_lease(ref.kind, bucket, ref.key, owner)
            raise
        self.repo.store_media(ref.kind, bucket, ref.key, _item(ref, bucket, entry, settings))
        self._remember(ref, entry)
        return entry

    def _await_other(
        self, ref: MediaRef, stale_before: int, settings: Settings, time_left: TimeLeft | None
    ) -> CachedId | None:
        """Another uploader holds the lease: wait for its id while we could still upload ourselves in time.
        None means upload anyway (it is slow or crashed): a second upload is only a wasted call."""
        give_up = time.monotonic() + LEASE_S
        while True:
            current = self.stored_entry(ref)
            if current and current.created_at >= stale_before:
                return current
            if time.monotonic() >= give_up or (
                time_left is not None and time_left() < settings.upload_min_s + 1
            ):
                return None
            time.sleep(WAIT_STEP_S)

    def _upload_object(self, ref: MediaRef, client: WeComClient, time_left: TimeLeft | None) -> CachedId:
        from wecom_bundle.wecom import media as wecom_media
        from wecom_bundle.wecom.errors import TransportError, WeComError

        created_at = self.now()  # before the call: the id can only be younger than this
        try:
            obj = self.bucket.read(ref.key)
        except Exception as exc:  # S3 unreachable or refusing: the caller decides (drop, retry later)
            logger.warning("media read failed", extra={"kind": ref.kind, "reason": type(exc).__name__})
            raise MediaUnavailable(ref, "upload_failed") from exc
        if obj is None:
            raise MediaUnavailable(ref, "missing_object")
        budget = 20.0 if time_left is None else time_left()
        if budget <= 0.2:
            raise MediaUnavailable(ref, "no_budget")
        filename, timeout = ref.key.rsplit("/", 1)[-1], (min(1.0, budget), budget)
        try:
            if ref.kind == URL_KIND:
                media_id = wecom_media.upload_img(
                    client, filename, obj.data, obj.content_type, timeout=timeout
                )
            else:
                media_id = wecom_media.upload(
                    client, ref.kind, filename, obj.data, obj.content_type, timeout=timeout
                )
        except (WeComError, TransportError) as exc:
            logger.warning("media upload failed", extra={"kind": ref.kind, "reason": type(exc).__name__})
            raise MediaUnavailable(ref, "upload_failed") from exc
        return CachedId(media_id, created_at, obj.etag)


def _item(ref: MediaRef, bucket: str, entry: CachedId, settings: Settings) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": ref.kind,
        "bucket": bucket,
        "s3_key": ref.key,
        "media_id": entry.media_id,
        "created_at": entry.created_at,
        "etag": entry.etag,
    }
    if ref.kind != URL_KIND:
        refresh_at = entry.created_at + settings.refresh_after_s
        item |= {
            "refresh_at": refresh_at,
            "expires_at": entry.created_at + CACHE_RETENTION_S,
            **media_repo.due_index(refresh_at, ref.kind, bucket, ref.key),
        }
    return item
