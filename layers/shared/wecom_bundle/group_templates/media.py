"""Bucket-backed media in group welcome templates: WeCom stores the template with the ids we sent.

Why a template needs more than the media cache: a welcome or a campaign resolves its bucket references at each
send, so a fresh id reaches WeCom by itself. A group welcome template is stored *in WeCom* with the temporary
``media_id`` of its creation, which dies after 3 days: the template silently breaks unless WeCom is told the
new id (``group_welcome_template/edit``) before then. So:

- the mirror keeps the source content (``s3_key`` / ``pic_s3_key``) and, in ``wecom_media``, which id WeCom
  holds for each reference and when that id was uploaded;
- a template only takes ids that are not yet due for the scheduled refresh (``_settings``), so the id it
  holds always outlives the next refresh run;
- after ``MediaRefreshFunction`` re-uploaded what is due, ``refresh_media`` edits every template whose held
  ids differ from the cache's with the fresh ids, then records them on the mirror;
- WeCom answering 40007 for an id we sent: invalidate it, resolve again, call once more.

``TemplateMedia`` does the work with its collaborators passed in (the mirror's repository and the media
cache); ``runtime.group_template_media`` wires them, and hands ``media_attachments`` / ``refresh_media`` to the
media refresh as its group template source and hook.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from wecom_bundle.group_templates.repo import TemplateRepo
from wecom_bundle.media.cache import FieldNamer, MediaRef, MediaUnavailable, Resolution, Settings, refs_in
from wecom_bundle.wecom import group_templates as wecom_templates
from wecom_bundle.wecom.client import WeComClient
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import TransportError, WeComError

logger = logging.getLogger(__name__)
T = TypeVar("T")

PARTS = ("image", "link", "miniprogram", "file", "video")


class RefreshOutcome(StrEnum):
    """What the media refresh did with one template (the run's summary counts each)."""

    CURRENT = "current"  # WeCom already holds the cache's fresh ids
    REPOINTED = "repointed"  # edited in WeCom to the fresh ids
    NOT_OWNED = "not_owned"  # WeCom refused: another app's template
    GONE = "gone"  # WeCom no longer has the template
    FAILED = "failed"


SKIPPED: dict[int, RefreshOutcome] = {
    Errcode.API_FORBIDDEN: RefreshOutcome.NOT_OWNED,
    Errcode.INVALID_TEMPLATE_ID: RefreshOutcome.GONE,
}
OUTCOMES = tuple(RefreshOutcome)


# ----------------------------------------------------------------------------------------------- shapes
def attachments_of(content: dict[str, Any]) -> list[dict[str, Any]]:
    """A template's non-text parts in the attachment shape ``media`` reads (``[{"msgtype": t, t: {...}}]``)."""
    return [{"msgtype": part, part: content[part]} for part in PARTS if content.get(part)]


def ref_name(ref: MediaRef) -> str:
    """The key of a reference in ``wecom_media`` (a DynamoDB map key)."""
    return f"{ref.kind}:{ref.key}"


def field_of(_index: int, msgtype: str, ref_field: str) -> str:
    """The body field an error names: parts are top-level keys of a template (``image.s3_key``)."""
    return f"{msgtype}.{ref_field}"


def has_media(content: dict[str, Any]) -> bool:
    return bool(refs_in(attachments_of(content)))


class MediaCache(Protocol):
    """What templates need of the media cache (``wecom_bundle.media.cache.MediaCache`` satisfies it)."""

    def check_exist(
        self, attachments: list[dict[str, Any]] | None, field: FieldNamer | None = None
    ) -> None: ...
    def resolve_attachments(
        self,
        attachments: list[dict[str, Any]] | None,
        client: WeComClient,
        *,
        settings: Settings | None = None,
    ) -> Resolution: ...
    def invalidate(self, ref: MediaRef, media_id: str) -> None: ...
    def now(self) -> int: ...


# ----------------------------------------------------------------------------------------------- resolving
@dataclass(frozen=True)
class Resolved:
    """The content as WeCom gets it, the ids used (to invalidate on 40007) and the ``wecom_media`` record."""

    content: dict[str, Any]
    used: dict[MediaRef, str]
    wecom_media: dict[str, dict[str, Any]]


def _settings() -> Settings:
    """Only ids not yet due for refresh: WeCom keeps a template's id until the next refresh run re-points it,
    and an id younger than ``refresh_after_s`` is sure to outlive that run (3 days − 2.5 days ≫ 4 h)."""
    settings = Settings.from_env()
    return dataclasses.replace(settings, max_age_s=min(settings.max_age_s, settings.refresh_after_s))


@dataclass(frozen=True)
class TemplateMedia:
    """Template media with its collaborators: the mirror (``repo``) and the media cache (``cache``)."""

    repo: TemplateRepo
    cache: MediaCache

    def check_exist(self, content: dict[str, Any]) -> None:
        """On write: the referenced object must be in the bucket (400 naming the field, before WeCom is
        called)."""
        self.cache.check_exist(attachments_of(content), field_of)

    def resolve(self, content: dict[str, Any], client: WeComClient) -> Resolved:
        """Bucket references → WeCom ids (uploading when needed). Raises ``MediaUnavailable``."""
        attachments = attachments_of(content)
        if not refs_in(attachments):
            return Resolved(content, {}, {})
        resolution = self.cache.resolve_attachments(attachments, client, settings=_settings())
        resolved = {**content, **{a["msgtype"]: a[a["msgtype"]] for a in resolution.attachments}}
        held = {
            ref_name(ref): {"media_id": media_id, "uploaded_at": resolution.uploaded_at[ref]}
            for ref, media_id in resolution.used.items()
        }
        return Resolved(resolved, dict(resolution.used), held)

    def call_with_media(
        self,
        client: WeComClient,
        content: dict[str, Any],
        call: Callable[[dict[str, Any]], T],
        resolved: Resolved | None = None,
    ) -> tuple[T, dict[str, dict[str, Any]]]:
        """``call`` WeCom with the resolved content; answers its result and the ``wecom_media`` it now holds.
        A 40007 (an id WeCom no longer knows although the cache thought it fresh): fresh uploads, once."""
        resolved = resolved or self.resolve(content, client)
        try:
            return call(resolved.content), resolved.wecom_media
        except WeComError as exc:
            if exc.errcode != Errcode.INVALID_MEDIA_ID or not resolved.used:
                raise
            logger.info("WeCom refused a template's media id (40007): uploading again")
        for ref, media_id in resolved.used.items():
            self.cache.invalidate(ref, media_id)
        resolved = self.resolve(content, client)
        return call(resolved.content), resolved.wecom_media

    # ------------------------------------------------------------------------------------------- refresh
    def media_attachments(self) -> Iterator[list[dict[str, Any]]]:
        """The media refresh's source: every mirrored template's parts (one Query of the GROUP_TEMPLATE
        partition)."""
        for record in self.repo.list_group_templates():
            yield attachments_of(record.get("content") or {})

    def refresh_media(self, client: WeComClient) -> dict[str, int]:
        """The media refresh's hook: point every mirrored template with bucket media at fresh ids in WeCom.

        Runs after the refresh re-uploaded what is due, so the cache holds the ids to use. A template WeCom
        refuses to change (another app's: 48002) or no longer has (40037) is recorded on the mirror and
        skipped; any other failure is counted and retried at the next run (the held id still has hours left).
        """
        counts = dict.fromkeys(OUTCOMES, 0)
        for record in self.repo.list_group_templates():
            if has_media(record.get("content") or {}):
                counts[self._outcome(record, client)] += 1
        return {f"templates_{name}": count for name, count in counts.items()}

    def _outcome(self, record: dict[str, Any], client: WeComClient) -> RefreshOutcome:
        template_id = record["template_id"]
        try:
            return self._repoint(record, client)
        except WeComError as exc:
            skipped = SKIPPED.get(exc.errcode)
            logger.warning(
                "group template media refresh refused",
                extra={"template_id": template_id, "errcode": exc.errcode, "skipped": skipped},
            )
            if skipped is None:
                return RefreshOutcome.FAILED
            error = {"errcode": exc.errcode, "reason": skipped, "at": self.cache.now()}
            _quietly(lambda: self.repo.note_group_template_media_error(template_id, error))
            return skipped
        except (TransportError, MediaUnavailable, ClientError, BotoCoreError) as exc:
            logger.warning(
                "group template media refresh failed",
                extra={"template_id": template_id, "reason": type(exc).__name__},
            )
            return RefreshOutcome.FAILED

    def _repoint(self, record: dict[str, Any], client: WeComClient, *, force: bool = False) -> RefreshOutcome:
        """Edit the template in WeCom if the ids it holds are not the cache's fresh ones; record what it holds.

        When an operator's edit lands between our read and our mirror write, WeCom may now hold our (older)
        content: edit once more with the record as it is now (``force``).
        """
        template_id, content = record["template_id"], record["content"]
        resolved = self.resolve(content, client)
        if not force and not stale(record.get("wecom_media"), resolved.wecom_media):
            return RefreshOutcome.CURRENT
        body = {"agentid": record["agentid"]} if record.get("agentid") is not None else {}
        _, held = self.call_with_media(
            client, content, lambda c: wecom_templates.edit(client, template_id, {**c, **body}), resolved
        )
        seen = record.get("updated_at_ms")
        if self.repo.note_group_template_media(template_id, held, seen, self.cache.now() * 1000):
            return RefreshOutcome.REPOINTED
        latest = self.repo.get_group_template(template_id)
        if latest is None or force or not has_media(latest.get("content") or {}):
            return RefreshOutcome.REPOINTED
        return self._repoint(latest, client, force=True)


def stale(held: dict[str, Any] | None, current: dict[str, dict[str, Any]]) -> bool:
    """WeCom must be told when it holds other ids than the cache's current ones. The refresh renews the
    cache first in the same run, so the cache's id is the freshest there is: an id's age alone is no reason
    to edit (editing with the same id changes nothing, and at the refresh boundary it edited twice)."""
    if not held or set(held) != set(current):
        return True
    return any(entry.get("media_id") != current[name]["media_id"] for name, entry in held.items())


def _quietly(write: Callable[[], Any]) -> None:
    """A mirror note must not end the run for the other templates."""
    try:
        write()
    except (ClientError, BotoCoreError) as exc:
        logger.warning("group template mirror note failed: %s", type(exc).__name__)
