"""Reconcile the group welcome template mirror with WeCom: report drift, optionally repair the mirror.

Why it exists: every change is WeCom first, mirror second, and the second step can fail (DynamoDB fault,
Lambda timeout). WeCom has no "list templates" call, so drift is found from what the mirror knows:
- each mirror record is read back with ``get``: ``missing_in_wecom`` (WeCom answers 40037) or
  ``content_differs`` (see ``group_templates.service.comparable``);
- each open add intent (written before every ``add``): with the template id WeCom answered, the template is
  ``missing_in_mirror`` (WeCom has it) or ``add_not_in_wecom``; without an id (no answer, and the id could
  not be kept) and older than a minute, it is ``add_unconfirmed``: WeCom may hold a template that nobody can
  name any more (it counts against the 100-cap; only the WeCom admin console can show and remove it).
Repair always makes the mirror follow WeCom; it never changes WeCom.

``Reconciler`` receives its collaborators (the mirror's repository, the WeCom client, a clock);
``runtime.group_template_reconcile`` wires them per container.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wecom_bundle.group_templates.repo import TemplateRepo
from wecom_bundle.group_templates.service import comparable, mirror, new_record
from wecom_bundle.wecom import group_templates as wecom_templates
from wecom_bundle.wecom.client import WeComClient
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import TransportError, WeComError

INTENT_GRACE_MS = 60_000  # an add younger than this may still be waiting for WeCom's answer

_REPAIRS = {
    "missing_in_wecom": "removed from the mirror",
    "content_differs": "mirror content replaced by WeCom's",
    "missing_in_mirror": "mirror record restored from the add intent",
    "add_not_in_wecom": "add intent dropped",
    "add_unconfirmed": "add intent dropped; if WeCom holds such a template, remove it in the admin console",
}


@dataclass
class Drift:
    kind: str
    template_id: str | None
    record: dict[str, Any] | None = None
    intent: dict[str, Any] | None = None
    wecom: dict[str, Any] | None = None
    repaired: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": self.kind, "template_id": self.template_id}
        if self.intent is not None:
            doc["intent_id"] = self.intent["intent_id"]
        source = self.record or self.intent
        if source is not None:
            doc["mirror"] = source["content"]
        if self.wecom is not None:
            doc["wecom"] = self.wecom
        if self.repaired is not None:
            doc["repaired"] = self.repaired
            doc["repair"] = _REPAIRS[self.kind]
        return doc


@dataclass(frozen=True)
class Reconciler:
    """Drift between WeCom and the mirror, with its collaborators passed in."""

    repo: TemplateRepo  # the mirror
    wecom: Callable[[], WeComClient]  # the container's client
    clock_ms: Callable[[], int]  # epoch milliseconds (an intent's grace period is measured on it)

    def reconcile(self, body: Any) -> dict[str, Any]:
        """``POST /admin/group-welcome-templates/reconcile``: the drift report (and its repair with
        ``repair``)."""
        repair = bool((body or {}).get("repair"))  # the body's shape: the admin model's
        now = self.clock_ms()
        records, intents = self.repo.list_group_templates(), self.repo.group_template_intents()
        named = [r["template_id"] for r in records] + [
            i["template_id"] for i in intents if i.get("template_id")
        ]
        found, unchecked = _read(self.wecom(), named)
        drift: list[Drift | None] = [
            _record_drift(r, found[r["template_id"]]) for r in records if r["template_id"] in found
        ]
        drift += [_intent_drift(i, found[i["template_id"]]) for i in intents if i.get("template_id") in found]
        unnamed = [i for i in intents if not i.get("template_id")]
        drift += [Drift("add_unconfirmed", None, intent=i) for i in unnamed if _settled(i, now)]
        real = [item for item in drift if item is not None]
        if repair:
            for item in real:
                item.repaired, _ = mirror(functools.partial(self._repair, item, now), f"repair {item.kind}")
        return {
            "checked": {"templates": len(records), "intents": len(intents)},
            "in_sync": not real and not unchecked,
            "drift": [item.as_dict() for item in real],
            "unchecked": unchecked,
            "in_flight": sum(1 for i in unnamed if not _settled(i, now)),
            "repair": repair,
        }

    def _repair(self, item: Drift, now: int) -> None:
        """Make the mirror follow WeCom for one drift."""
        if item.kind == "missing_in_wecom":
            self.repo.delete_group_template(str(item.template_id))
        elif item.kind == "content_differs" and item.record is not None and item.wecom is not None:
            content = repaired_content(item.record["content"], item.wecom)
            self.repo.put_group_template({**item.record, "content": content, "updated_at_ms": now})
        elif item.kind == "missing_in_mirror" and item.intent is not None:
            record = new_record(str(item.template_id), item.intent, now) | {"restored_by": "reconcile"}
            self.repo.record_group_template_added(item.intent["intent_id"], record)
        elif item.intent is not None:
            self.repo.delete_group_template_intent(item.intent["intent_id"])


def _settled(intent: dict[str, Any], now: int) -> bool:
    return now - int(intent["started_at_ms"]) >= INTENT_GRACE_MS


def _read(
    client: WeComClient, template_ids: list[str]
) -> tuple[dict[str, dict[str, Any] | None], list[dict[str, Any]]]:
    """WeCom's content per id (None: WeCom does not have it) and the ids WeCom gave no usable answer for."""
    found: dict[str, dict[str, Any] | None] = {}
    unchecked: list[dict[str, Any]] = []
    for template_id in dict.fromkeys(template_ids):
        try:
            found[template_id] = wecom_templates.get(client, template_id)
        except WeComError as exc:
            if exc.errcode == Errcode.INVALID_TEMPLATE_ID:
                found[template_id] = None
            else:
                unchecked.append({"template_id": template_id, "errcode": exc.errcode, "reason": exc.errmsg})
        except TransportError as exc:
            unchecked.append({"template_id": template_id, "reason": exc.reason})
    return found, unchecked


def _record_drift(record: dict[str, Any], found: dict[str, Any] | None) -> Drift | None:
    if found is None:
        return Drift("missing_in_wecom", record["template_id"], record=record)
    if comparable(found) != comparable(record["content"]):
        return Drift("content_differs", record["template_id"], record=record, wecom=found)
    return None


def repaired_content(mirrored: dict[str, Any], found: dict[str, Any]) -> dict[str, Any]:
    """WeCom's content, except that a media part WeCom holds in the same slot as the mirror keeps the mirror's
    form: WeCom answers ids and URLs where the mirror holds the bucket reference that the media refresh keeps
    alive (replacing it would let the template's media expire). Only the media fields are kept."""
    content = dict(found)
    for part, value in found.items():
        source = mirrored.get(part)
        if part in ("image", "file", "video") and source:
            content[part] = source
        elif part == "miniprogram" and source:
            media_fields = {k: v for k, v in source.items() if k in ("pic_media_id", "pic_s3_key")}
            content[part] = {k: v for k, v in value.items() if k != "pic_media_id"} | media_fields
    return content


def _intent_drift(intent: dict[str, Any], found: dict[str, Any] | None) -> Drift:
    kind = "add_not_in_wecom" if found is None else "missing_in_mirror"
    return Drift(kind, intent["template_id"], intent=intent, wecom=found)
