"""Reconcile the channels with the contact ways WeCom holds: report the drift, optionally repair the store.

Why: a channel is a code WeCom holds and the console does not show. Codes can be made or deleted by other
tools (or by us, with the answer lost), so operators need to see, in one report:
- ``unknown_in_store``: WeCom holds a code we have no channel for (``importable`` when its ``state`` is a
  valid channel id no channel uses: repair imports it, status active, name = state);
- ``gone_in_wecom``: a channel whose code WeCom no longer has (``get_contact_way`` answers 41044; repair
  marks it ``gone``: a PUT then makes a new code);
- ``differs``: members, skip_verify, remark or state differ between the channel and WeCom's code (PUT the
  channel to make WeCom follow it);
- ``pending``: intents that never became a code, with the code WeCom holds for their state if any (repair
  adopts it, once the intent is older than the grace period of an add in flight);
- ``duplicates``: a second code with a channel's state (an add that completed after its answer was given up
  on, or another tool). One is kept, deterministically: the code the channel records, else (an intent past
  its grace period) the smallest config id, which the intent then adopts; repair deletes each other one in
  WeCom with ``del_contact_way`` (it can never be imported: the channel id is taken).
WeCom's list answers only ids of codes created since 2021-07-10, in time windows; every code is read with
``get_contact_way``, and every channel's own code is read too (a code the list misses is still checked).

``ChannelReconciler`` receives its collaborators (the repository, the WeCom client, a clock);
``runtime.channel_reconcile`` wires them per container.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wecom_bundle.channels.model import ACTIVE, GONE, PENDING
from wecom_bundle.channels.repo import ChannelRepo
from wecom_bundle.channels.service import INTENT_GRACE_MS, channel_view, refusal, stored, wecom_view
from wecom_bundle.channels.validation import is_channel_id
from wecom_bundle.domain_errors import WeComUnavailable
from wecom_bundle.wecom import contact_ways
from wecom_bundle.wecom.client import WeComClient
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import TransportError, WeComError

if TYPE_CHECKING:
    from wecom_bundle.channels.model import ChannelItem

COMPARED = ("members", "skip_verify", "remark", "state")


@dataclass
class Holdings:
    """What WeCom answered: each readable code by config id, the ids it has not, the ids it gave no answer
    for."""

    ways: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    unchecked: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ChannelReconciler:
    """Drift between WeCom's contact ways and the channels, with its collaborators passed in."""

    repo: ChannelRepo
    wecom: Callable[[], WeComClient]
    clock_ms: Callable[[], int]

    def reconcile(self, body: Any) -> dict[str, Any]:
        """``POST /admin/channels/reconcile``: the report (and the repair with ``{"repair": true}``)."""
        repair = bool((body or {}).get("repair"))  # the body's shape: the admin model's
        now = self.clock_ms()
        channels = self.repo.all_channels()
        held = self._holdings(channels, now)
        by_config = {c["config_id"]: c for c in channels if c.get("config_id")}
        by_id = {c["channel_id"]: c for c in channels}
        pending = [c for c in channels if c["status"] == PENDING and not c.get("config_id")]
        twins = _duplicates(channels, held, now)
        extra = {config_id for entry in twins.values() for config_id in entry[1]}
        by_state = {way.get("state"): way for way in held.ways.values() if way.get("state")}
        by_state |= {state: held.ways[kept] for state, (kept, _) in twins.items()}
        report: dict[str, Any] = {
            "repair": repair,
            "checked": {"wecom": len(held.ways), "channels": len(channels)},
            "unknown_in_store": [],
            "gone_in_wecom": [],
            "differs": [],
            "pending": [],
            "duplicates": [],
            "unchecked": held.unchecked,
        }
        claimed = {c["channel_id"] for c in pending}
        for config_id, way in sorted(held.ways.items()):
            if config_id in by_config or config_id in extra or way.get("state") in claimed:
                continue
            report["unknown_in_store"].append(self._unknown(way, by_id, repair, now))
        for channel in channels:
            code = channel.get("config_id")
            if code in held.missing and channel["status"] != GONE:
                report["gone_in_wecom"].append(self._gone(channel, repair, now))
            elif code in held.ways and channel["status"] == ACTIVE:
                fields = _differences(channel, held.ways[code])
                if fields:
                    report["differs"].append(
                        {"channel_id": channel["channel_id"], "config_id": code, "fields": fields}
                    )
        for state, (kept, others) in sorted(twins.items()):
            report["duplicates"] += [self._duplicate(state, kept, other, repair) for other in others]
        for intent in pending:
            report["pending"].append(self._pending(intent, by_state.get(intent["channel_id"]), repair, now))
        report["in_sync"] = not any(
            report[key]
            for key in ("unknown_in_store", "gone_in_wecom", "differs", "pending", "duplicates", "unchecked")
        )
        return report

    def _holdings(self, channels: list[ChannelItem], now: int) -> Holdings:
        """Every code WeCom lists, and every channel's own code, read with ``get``."""
        client = self.wecom()
        held = Holdings()
        try:
            listed = list(contact_ways.list_config_ids(client, contact_ways.LIST_FLOOR, now // 1000 + 60))
        except WeComError as exc:
            raise refusal(exc) from exc
        except TransportError as exc:
            raise WeComUnavailable(f"WeCom did not answer the listing ({exc.reason}); try again") from exc
        ours = [c["config_id"] for c in channels if c.get("config_id")]
        for config_id in dict.fromkeys(listed + ours):
            try:
                held.ways[config_id] = contact_ways.get(client, config_id)
            except WeComError as exc:
                if exc.errcode == Errcode.CONTACT_WAY_INVALID_CONFIG_ID:
                    held.missing.add(config_id)
                else:
                    held.unchecked.append(
                        {"config_id": config_id, "errcode": exc.errcode, "reason": exc.errmsg}
                    )
            except TransportError as exc:
                held.unchecked.append({"config_id": config_id, "reason": exc.reason})
        return held

    def _unknown(
        self, way: dict[str, Any], by_id: dict[str, ChannelItem], repair: bool, now: int
    ) -> dict[str, Any]:
        state = str(way.get("state") or "")
        entry: dict[str, Any] = {"config_id": str(way["config_id"]), "state": state, **_wecom_doc(way)}
        if not is_channel_id(state):
            entry |= {"importable": False, "reason": "its state is not a channel id (1-30 of A-Za-z0-9_-)"}
        elif state in by_id:
            entry |= {
                "importable": False,
                "reason": f"channel {state} has another code: a second code for it",
            }
        else:
            entry["importable"] = True
        if repair and entry["importable"]:
            record = _imported(way, now)
            ok, written = stored(lambda: self.repo.import_channel(record), "import")
            entry["repaired"] = bool(ok and written)
        return entry

    def _gone(self, channel: ChannelItem, repair: bool, now: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"channel_id": channel["channel_id"], "config_id": channel["config_id"]}
        if repair:
            ok, written = stored(
                lambda: self.repo.mark_channel_gone(channel["channel_id"], channel["config_id"], now), "gone"
            )
            entry["repaired"] = bool(ok and written)
        return entry

    def _duplicate(self, channel_id: str, kept: str, other: str, repair: bool) -> dict[str, Any]:
        """One code beside the one a channel keeps; repair deletes it in WeCom (gone already: done)."""
        entry: dict[str, Any] = {"channel_id": channel_id, "config_id": other, "kept": kept}
        if not repair:
            return entry
        try:
            contact_ways.delete(self.wecom(), other)
        except WeComError as exc:
            if exc.errcode != Errcode.CONTACT_WAY_INVALID_CONFIG_ID:
                return entry | {"repaired": False, "reason": f"WeCom refused: {exc.errmsg}"}
        except TransportError as exc:
            return entry | {"repaired": False, "reason": f"WeCom did not answer ({exc.reason})"}
        return entry | {"repaired": True}

    def _pending(
        self, intent: ChannelItem, way: dict[str, Any] | None, repair: bool, now: int
    ) -> dict[str, Any]:
        age = now - int(intent.get("updated_at_ms") or 0)
        entry: dict[str, Any] = {
            "channel_id": intent["channel_id"],
            "config_id": None if way is None else str(way["config_id"]),
            "in_flight": age < INTENT_GRACE_MS,
        }
        if repair and way is not None and not entry["in_flight"]:
            entry["repaired"] = self._adopt(intent, way, now)
        return entry

    def _adopt(self, intent: ChannelItem, way: dict[str, Any], now: int) -> bool:
        """The intent takes the code WeCom made for it (claimed first: a PUT may be repairing it too)."""
        channel_id = intent["channel_id"]
        if not self.repo.claim_channel_intent(channel_id, int(intent.get("updated_at_ms") or 0), now):
            return False
        held = wecom_view(way)
        record: ChannelItem = {
            **intent,
            "members": held["members"],
            "skip_verify": held["skip_verify"],
            "config_id": str(way["config_id"]),
            "qr_code": str(way.get("qr_code") or ""),
            "status": ACTIVE,
            "updated_at_ms": now,
        }
        record.pop("remark", None)
        if held["remark"]:
            record["remark"] = held["remark"]
        ok, written = stored(lambda: self.repo.activate_channel(record), "adopt")
        return bool(ok and written)


def _duplicates(channels: list[ChannelItem], held: Holdings, now: int) -> dict[str, tuple[str, list[str]]]:
    """For each channel WeCom holds several codes with the state of: (the code kept, the others). Only
    where the keeper is certain: the channel's own code, or an intent past its grace period (the
    smallest config id); an intent in flight may still adopt any of them, a gone channel none."""
    codes: dict[str, list[str]] = {}
    for config_id, way in sorted(held.ways.items()):
        codes.setdefault(str(way.get("state") or ""), []).append(config_id)
    twins = {}
    for channel in channels:
        same = codes.get(channel["channel_id"], [])
        if len(same) < 2:
            continue
        if channel["status"] == ACTIVE and channel.get("config_id") in same:
            kept = str(channel["config_id"])
        elif channel["status"] == PENDING and now - int(channel.get("updated_at_ms") or 0) >= INTENT_GRACE_MS:
            kept = same[0]
        else:
            continue
        twins[channel["channel_id"]] = (kept, [c for c in same if c != kept])
    return twins


def _wecom_doc(way: dict[str, Any]) -> dict[str, Any]:
    held = wecom_view(way)
    return {"members": held["members"], "skip_verify": held["skip_verify"], "remark": held["remark"]}


def _differences(channel: ChannelItem, way: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each compared field that differs: ``{"store": ..., "wecom": ...}`` (members compared as sets)."""
    ours, theirs = channel_view(channel), wecom_view(way)
    fields = {}
    for name in COMPARED:
        same = sorted(ours[name]) == sorted(theirs[name]) if name == "members" else ours[name] == theirs[name]
        if not same:
            fields[name] = {"store": ours[name], "wecom": theirs[name]}
    return fields


def _imported(way: dict[str, Any], now: int) -> ChannelItem:
    """A channel for a code WeCom holds with a usable state: named after it, no welcome, no tags."""
    held = wecom_view(way)
    record: ChannelItem = {
        "channel_id": held["state"],
        "name": held["state"],
        "members": held["members"],
        "skip_verify": held["skip_verify"],
        "tags": [],
        "config_id": str(way["config_id"]),
        "qr_code": str(way.get("qr_code") or ""),
        "status": ACTIVE,
        "created_at_ms": now,
        "updated_at_ms": now,
    }
    if held["remark"]:
        record["remark"] = held["remark"]
    return record
