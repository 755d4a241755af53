"""Group welcome templates: WeCom holds them, DynamoDB mirrors them (admin API and ``wecomctl group-templates``).

Every change runs validate → WeCom → mirror. WeCom is the source of truth; the mirror answers the list (WeCom has
no list call) and keeps what only this app knows: the notify flag, the times, the origin, and that this app
created the template (only the creating app may edit or delete it). A WeCom refusal changes nothing. A mirror
write that fails after WeCom succeeded is reported in the answer (``mirrored: false``) and found again by
``reconcile`` (see ``group_templates.reconcile``), which is why every ``add`` first writes an intent.

Parts may name an object of the media bucket (``s3_key`` / ``pic_s3_key``): the mirror keeps that source
content, WeCom gets media ids, and ``group_templates.media`` keeps the ids WeCom holds fresh.

``GroupTemplateService`` receives its collaborators (the mirror's repository, the WeCom client, the template
media, a clock); ``runtime.group_templates`` wires them per container.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from wecom_bundle.domain_errors import (
    DomainError,
    LimitReached,
    MediaMissing,
    MediaUploadFailed,
    NotFound,
    NotOwned,
    WeComBusy,
    WeComRefused,
    WeComUnavailable,
)
from wecom_bundle.dynamo.table import after_call
from wecom_bundle.group_templates.media import TemplateMedia
from wecom_bundle.group_templates.repo import TemplateRepo
from wecom_bundle.group_templates.validation import TemplateInput, parse_template, validate_template_id
from wecom_bundle.media.cache import MediaUnavailable
from wecom_bundle.wecom import group_templates as wecom_templates
from wecom_bundle.wecom.client import WeComClient
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import TransportError, WeComError

logger = logging.getLogger(__name__)
T = TypeVar("T")

LIMIT = 100  # per corp, every app's and the admin console's templates together (41055 beyond)
ORIGIN_API = "admin_api"  # created through this API
ORIGIN_ADOPTED = "adopted"  # not in the mirror, but WeCom let this app edit it: this app created it
MIRROR_FAILED = (
    "WeCom holds the change but the mirror write failed: run `wecomctl group-templates reconcile --repair`"
)
_METADATA = (
    "notify",
    "agentid",
    "origin",
    "created_by_app",
    "created_at_ms",
    "updated_at_ms",
    "wecom_media",
    "media_refreshed_at_ms",
    "media_refresh_error",
)


# ----------------------------------------------------------------------------------------------- shapes and errors
def refusal(exc: WeComError, template_id: str | None) -> DomainError:
    """WeCom's errcode as a domain error; the errcode always travels along. A full cap (41055) is counted
    against the mirror by ``_refused`` before this is asked."""
    code = exc.errcode
    if code == Errcode.API_FORBIDDEN:
        return NotOwned(
            f"only the app that created group welcome template {template_id} may edit or delete it; "
            "WeCom refused this app",
            errcode=code,
        )
    if code == Errcode.INVALID_TEMPLATE_ID:
        return NotFound(f"WeCom has no group welcome template {template_id}", errcode=code)
    if exc.retryable:
        return WeComBusy(f"WeCom is busy or rate-limiting: {exc.errmsg}", errcode=code)
    return WeComRefused(f"WeCom refused the request: {exc.errmsg}", errcode=code)


def _refused(exc: WeComError, template_id: str | None, repo: TemplateRepo) -> DomainError:
    """``refusal``, with the mirror's count gathered here when WeCom says the corp's cap is full."""
    if exc.errcode != Errcode.TEMPLATE_LIMIT_REACHED:
        return refusal(exc, template_id)
    count = len(repo.list_group_templates())
    return LimitReached(
        f"WeCom holds at most {LIMIT} group welcome templates per corp, counting every app's and the admin "
        f"console's; {count} of them are this app's (the mirror's count): delete unused templates first",
        errcode=exc.errcode,
        count=count,
        limit=LIMIT,
    )


def media_refusal(exc: MediaUnavailable) -> DomainError:
    """A bucket object that could not be uploaded: WeCom was not asked to change anything."""
    if exc.reason == "missing_object":
        return MediaMissing(f"s3 object {exc.ref.key!r} does not exist in the media bucket")
    return MediaUploadFailed(f"uploading {exc.ref.key!r} to WeCom failed; try again")


def mirror(write: Callable[[], T], what: str) -> tuple[bool, T | None]:
    """Run a mirror write after WeCom already changed: a DynamoDB fault must not hide WeCom's success."""
    return after_call(write, f"group template mirror ({what})", logger)


def view(
    record: dict[str, Any], *, mirrored: bool = True, warnings: list[str] | None = None
) -> dict[str, Any]:
    """A mirror record as the API shows it: content keys at the top level, like WeCom's own answer."""
    doc = {"template_id": record["template_id"], **record.get("content", {})}
    doc |= {key: record[key] for key in _METADATA if key in record}
    doc["mirrored"] = mirrored
    if warnings is not None:
        doc["warnings"] = warnings
    return doc


def _wecom_body(parsed: TemplateInput, content: dict[str, Any]) -> dict[str, Any]:
    """The add/edit body: ``content`` resolved to media ids, plus notify/agentid when given."""
    extra = {
        key: value
        for key, value in (("notify", parsed.notify), ("agentid", parsed.agentid))
        if value is not None
    }
    return {**content, **extra}


def _with_agentid(doc: dict[str, Any], agentid: int | None) -> dict[str, Any]:
    return doc if agentid is None else {**doc, "agentid": agentid}


def new_record(template_id: str, intent: dict[str, Any], now: int) -> dict[str, Any]:
    """The mirror record of a template created from ``intent`` (by the add, or restored by reconcile)."""
    record = {
        "template_id": template_id,
        "content": intent["content"],
        "notify": intent["notify"],
        "origin": ORIGIN_API,
        "created_by_app": True,
        "created_at_ms": int(intent["started_at_ms"]),
        "updated_at_ms": now,
        "intent_id": intent["intent_id"],
    }
    return _with_agentid(record, intent.get("agentid"))


def comparable(content: dict[str, Any]) -> dict[str, Any]:
    """What WeCom's ``get`` reliably echoes: text, link and the miniprogram's title/appid/page as sent; an
    image comes back as a URL and file/video/cover media ids may come back as other ids of the same file, so
    for those only the part's presence is compared."""
    out: dict[str, Any] = {}
    for key, value in content.items():
        if key in ("text", "link"):
            out[key] = value
        elif key == "miniprogram":
            out[key] = {k: value.get(k) for k in ("title", "appid", "page")}
        else:
            out[key] = True
    return out


def _edited(
    existing: dict[str, Any] | None,
    template_id: str,
    parsed: TemplateInput,
    now: int,
    held: dict[str, Any],
) -> dict[str, Any]:
    """A template WeCom let us edit is ours even when the mirror lacks it (then it is adopted). The media
    fields describe what WeCom holds now: the edit's ids, no refresh error."""
    base = existing or {"template_id": template_id, "origin": ORIGIN_ADOPTED, "created_by_app": True}
    base = {k: v for k, v in base.items() if k not in ("wecom_media", "media_refresh_error")}
    record = {**base, "content": parsed.content, "updated_at_ms": now} | (
        {"wecom_media": held} if held else {}
    )
    return _with_agentid(record, parsed.agentid)


# ----------------------------------------------------------------------------------------------- the service
@dataclass(frozen=True)
class GroupTemplateService:
    """The admin API's group template operations with their collaborators passed in."""

    repo: TemplateRepo  # the mirror
    wecom: Callable[[], WeComClient]  # the container's client (a new one after a secret rotation)
    media: TemplateMedia  # bucket references → the ids WeCom holds
    clock_ms: Callable[[], int]  # epoch milliseconds

    @contextmanager
    def _wecom(self, template_id: str | None = None) -> Iterator[WeComClient]:
        """The WeCom client, with its errors turned into domain errors."""
        try:
            yield self.wecom()
        except WeComError as exc:
            raise _refused(exc, template_id, self.repo) from exc
        except TransportError as exc:
            raise WeComUnavailable(f"WeCom did not answer ({exc.reason}); try again") from exc
        except MediaUnavailable as exc:
            raise media_refusal(exc) from exc

    def create_template(self, body: Any) -> dict[str, Any]:
        """``POST /admin/group-welcome-templates``: the created template, ``warnings`` and ``mirrored``."""
        parsed = parse_template(body, creating=True)
        self.media.check_exist(parsed.content)
        now = self.clock_ms()
        notify = 1 if parsed.notify is None else parsed.notify  # WeCom's default: notify
        intent = _with_agentid(
            {
                "intent_id": uuid.uuid4().hex,
                "content": parsed.content,
                "notify": notify,
                "started_at_ms": now,
            },
            parsed.agentid,
        )
        self.repo.put_group_template_intent(intent)  # a fault here: WeCom was not called, nothing changed
        template_id, wecom_media = self._add(intent["intent_id"], parsed)
        record = new_record(template_id, intent, now) | ({"wecom_media": wecom_media} if wecom_media else {})
        mirrored, _ = mirror(
            lambda: self.repo.record_group_template_added(intent["intent_id"], record), "add"
        )
        if not mirrored:  # keep WeCom's answer on the intent, so reconcile can restore the record
            mirror(
                lambda: self.repo.note_group_template_intent_id(intent["intent_id"], template_id), "add id"
            )
        return view(
            record, mirrored=mirrored, warnings=parsed.warnings + ([] if mirrored else [MIRROR_FAILED])
        )

    def _add(self, intent_id: str, parsed: TemplateInput) -> tuple[str, dict[str, Any]]:
        """WeCom's add (answers the template id and the ``wecom_media`` it holds); a refusal ends the intent, no
        answer leaves it for reconcile (the add may have landed)."""
        client = self.wecom()
        try:
            return self.media.call_with_media(
                client,
                parsed.content,
                lambda content: wecom_templates.add(client, _wecom_body(parsed, content)),
            )
        except WeComError as exc:
            mirror(lambda: self.repo.delete_group_template_intent(intent_id), "end intent")
            raise _refused(exc, None, self.repo) from exc
        except MediaUnavailable as exc:  # nothing was created
            mirror(lambda: self.repo.delete_group_template_intent(intent_id), "end intent")
            raise media_refusal(exc) from exc
        except TransportError as exc:
            raise WeComUnavailable(
                f"WeCom did not answer ({exc.reason}): the template may have been created; "
                "`reconcile` reports it after a minute",
            ) from exc

    def get_template(self, template_id: str) -> dict[str, Any]:
        """``GET .../{id}``: the mirror's source content (bucket references as the operator wrote them) and
        metadata, WeCom's content (``get``) under ``wecom``; ``in_sync`` compares the two. Without a mirror
        record: WeCom's content."""
        template_id = validate_template_id(template_id)
        with self._wecom(template_id) as client:
            content = wecom_templates.get(client, template_id)
        record = self.repo.get_group_template(template_id)
        if record is None:
            return {"template_id": template_id, **content, "mirrored": False}
        doc = view(record) | {"wecom": content}
        doc["in_sync"] = comparable(content) == comparable(record["content"])
        return doc

    def list_templates(self) -> dict[str, Any]:
        """``GET /admin/group-welcome-templates``: the mirror (WeCom has no list call), oldest first."""
        records = sorted(
            self.repo.list_group_templates(),
            key=lambda r: (int(r.get("created_at_ms") or 0), r["template_id"]),
        )
        return {"items": [view(r) for r in records], "count": len(records), "limit": LIMIT}

    def edit_template(self, template_id: str, body: Any) -> dict[str, Any]:
        """``PUT .../{id}``: replace the content on WeCom, then in the mirror (``notify`` is fixed at creation)."""
        template_id = validate_template_id(template_id)
        parsed = parse_template(body, creating=False)
        self.media.check_exist(parsed.content)
        with self._wecom(template_id) as client:
            _, held = self.media.call_with_media(
                client,
                parsed.content,
                lambda content: wecom_templates.edit(client, template_id, _wecom_body(parsed, content)),
            )
        now = self.clock_ms()

        def write() -> dict[str, Any]:
            record = _edited(self.repo.get_group_template(template_id), template_id, parsed, now, held)
            self.repo.put_group_template(record)
            return record

        mirrored, record = mirror(write, "edit")
        shown = record or _edited(None, template_id, parsed, now, held)
        return view(
            shown, mirrored=mirrored, warnings=parsed.warnings + ([] if mirrored else [MIRROR_FAILED])
        )

    def delete_template(self, template_id: str) -> dict[str, Any] | None:
        """``DELETE .../{id}``: WeCom ``del``, then the mirror. None when both are done.

        A template WeCom no longer has (40037: deleted in the admin console, or by an earlier delete whose mirror
        write failed) still leaves the mirror; without a mirror record that is ``NotFound``.
        """
        template_id = validate_template_id(template_id)
        record = self.repo.get_group_template(template_id)
        with self._wecom(template_id) as client:
            try:
                wecom_templates.delete(client, template_id, (record or {}).get("agentid"))
            except WeComError as exc:
                if exc.errcode != Errcode.INVALID_TEMPLATE_ID or record is None:
                    raise
                logger.info(
                    "group template %s already gone in WeCom: removing it from the mirror", template_id
                )
        mirrored, _ = mirror(lambda: self.repo.delete_group_template(template_id), "delete")
        if mirrored:
            return None
        return {"template_id": template_id, "deleted": True, "mirrored": False, "warnings": [MIRROR_FAILED]}
