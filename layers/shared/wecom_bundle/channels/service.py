"""Channels for the admin API: PUT (create or update the 「联系我」 QR code), GET, list, DELETE.

Why an intent before ``add_contact_way``: WeCom's console never shows contact ways made through the API, and
a lost ``config_id`` means the code can be neither edited nor deleted. So the first PUT writes the channel
(status ``pending``, no config id) *before* asking WeCom, and the ``state`` WeCom stores is the channel id.
If the Lambda dies between WeCom's answer and our write, the next PUT of that id (after ``INTENT_GRACE_MS``)
or ``reconcile`` finds the code again from ``list_contact_way`` + ``get_contact_way`` by its ``state`` and
adopts it: never an orphan code, never a second code for one state. Two PUTs of the same new id: the
conditional intent write lets one through; the other gets a 409 (retry: it then updates).

A later PUT calls ``update_contact_way`` with only the WeCom fields that changed (members, skip_verify,
remark); name, tags and welcome are ours alone and just stored. WeCom cannot change a code's type, so a
single-member code stays single-member (409 naming ``members``: delete the channel and create it again).

``ChannelService`` receives its collaborators (the repository, the WeCom client, the media cache's existence
check, a clock); ``runtime.channels`` wires them per container.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from wecom_bundle import cursors
from wecom_bundle.channels.model import ACTIVE, GONE, PENDING, public_view
from wecom_bundle.channels.repo import ChannelRepo
from wecom_bundle.channels.validation import parse_channel, validate_channel_id
from wecom_bundle.domain_errors import (
    DomainError,
    InvalidState,
    NotFound,
    WeComBusy,
    WeComRefused,
    WeComUnavailable,
)
from wecom_bundle.dynamo.table import after_call
from wecom_bundle.validation import ValidationError, page_size
from wecom_bundle.wecom import contact_ways
from wecom_bundle.wecom.client import WeComClient
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import TransportError, WeComError

if TYPE_CHECKING:
    from wecom_bundle.channels.model import ChannelItem

logger = logging.getLogger(__name__)
T = TypeVar("T")

# The intent's lease: how long an ``add_contact_way`` sent may still complete in WeCom, whether or not we
# waited for its answer. Our read timeout (10 s) bounds only our wait; WeCom may answer later and still make
# the code (answers after 14 s are seen). No WeCom page bounds its answer time: 60 s is six times our timeout
# and the same lease the group-template intents use; a code that still appears after it is found by the
# next search or settled by reconcile (a second code with one state: the channel's kept, the other deleted).
INTENT_GRACE_MS = 60_000
SEARCH_MARGIN_S = 120  # a code is looked for from this long before its intent (clocks differ)
WECOM_FIELDS = ("members", "skip_verify", "remark")  # what update_contact_way changes (state never changes)
NOT_STORED = (
    "WeCom holds the code but storing it failed: PUT the channel again (or run `wecomctl channels "
    "reconcile --repair`) to record it"
)
LIST_SCOPE = "channels"


class ChannelMedia(Protocol):
    """What saving a channel needs of the media cache: the welcome's bucket objects exist."""

    def check_exist(self, attachments: Iterable[dict[str, Any]] | None, field: Any = None) -> None: ...


def refusal(exc: WeComError) -> DomainError:
    """WeCom's answer as a domain error; its errcode always travels along."""
    if exc.retryable:
        return WeComBusy(f"WeCom is busy or rate-limiting: {exc.errmsg}", errcode=exc.errcode)
    return WeComRefused(f"WeCom refused the contact way: {exc.errmsg}", errcode=exc.errcode)


def stored(write: Callable[[], T], what: str) -> tuple[bool, T | None]:
    """Run a write after WeCom already changed: a DynamoDB fault must not hide WeCom's answer."""
    return after_call(write, f"channel ({what})", logger)


def code_type(members: list[str]) -> int:
    """One member: a single-person code; several: a multi-person code."""
    return contact_ways.TYPE_SINGLE if len(members) == 1 else contact_ways.TYPE_MULTI


def add_body(channel: ChannelItem) -> dict[str, Any]:
    """``add_contact_way``'s body for a channel: a QR code whose state is the channel id."""
    return {
        "type": code_type(channel["members"]),
        "state": channel["channel_id"],
        "user": list(channel["members"]),
        "skip_verify": channel["skip_verify"],
        "remark": channel.get("remark", ""),
    }


def wecom_view(way: dict[str, Any]) -> dict[str, Any]:
    """A contact way WeCom answered, in our field names (to compare with a channel)."""
    return {
        "members": list(way.get("user") or []),
        "skip_verify": bool(way.get("skip_verify", True)),
        "remark": str(way.get("remark") or ""),
        "state": str(way.get("state") or ""),
    }


def channel_view(channel: ChannelItem) -> dict[str, Any]:
    """A channel's WeCom fields, as ``wecom_view`` gives them."""
    return {
        "members": list(channel.get("members") or []),
        "skip_verify": bool(channel.get("skip_verify", True)),
        "remark": str(channel.get("remark") or ""),
        "state": str(channel["channel_id"]),
    }


def update_changes(held: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """``update_contact_way``'s fields for what differs between two ``channel_view``s (members as sets:
    WeCom's order is its own)."""
    changes: dict[str, Any] = {}
    if sorted(held["members"]) != sorted(wanted["members"]):
        changes["user"] = wanted["members"]
    if held["skip_verify"] != wanted["skip_verify"]:
        changes["skip_verify"] = wanted["skip_verify"]
    if held["remark"] != wanted["remark"]:
        changes["remark"] = wanted["remark"]
    return changes


def _with_fields(base: ChannelItem, fields: dict[str, Any], now: int) -> ChannelItem:
    """``base`` with a PUT's fields (a PUT replaces them all: an absent remark or welcome goes)."""
    kept = {key: value for key, value in base.items() if key not in ("remark", "welcome")}
    return cast("ChannelItem", {**kept, **fields, "updated_at_ms": now})


@dataclass(frozen=True)
class ChannelService:
    """The admin API's channel operations, with their collaborators passed in."""

    repo: ChannelRepo
    wecom: Callable[[], WeComClient]  # the container's client (a new one after a secret rotation)
    media: ChannelMedia
    clock_ms: Callable[[], int]  # epoch milliseconds

    @contextmanager
    def _wecom(self) -> Iterator[WeComClient]:
        """The WeCom client, with its errors turned into domain errors."""
        try:
            yield self.wecom()
        except WeComError as exc:
            raise refusal(exc) from exc
        except TransportError as exc:
            raise WeComUnavailable(f"WeCom did not answer ({exc.reason}); try again") from exc

    # ------------------------------------------------------------------------------------------ PUT
    def put_channel(self, channel_id: str, body: Any) -> tuple[dict[str, Any], bool]:
        """``PUT /admin/channels/{id}``: (the channel with ``config_id`` and ``qr_code``, created)."""
        channel_id = validate_channel_id(channel_id)
        fields = parse_channel(body)
        if "welcome" in fields:
            self.media.check_exist(fields["welcome"]["attachments"], _welcome_field)
        existing = self.repo.get_channel(channel_id)
        now = self.clock_ms()
        if existing is None:
            intent = cast(
                "ChannelItem", {"channel_id": channel_id, **fields, "status": PENDING, "created_at_ms": now}
            )
            intent["updated_at_ms"] = now
            if not self.repo.put_channel_intent(intent):
                raise InvalidState(
                    f"channel {channel_id} is being created by another request: retry in a few seconds"
                )
            return self._add(intent), True
        if existing["status"] == PENDING:
            return self._resume(existing, fields, now), True
        if existing["status"] == GONE:
            return self._recreate(existing, fields, now), True
        return self._update(existing, fields, now), False

    def _add(self, intent: ChannelItem) -> dict[str, Any]:
        """WeCom's ``add`` for a claimed intent. A refusal ends the intent (nothing was created); no answer
        frees it at once, so the next PUT looks for the code WeCom may have made."""
        client = self.wecom()
        try:
            answer = contact_ways.add(client, add_body(intent))
        except WeComError as exc:
            stored(lambda: self.repo.drop_channel_intent(intent["channel_id"]), "end intent")
            raise refusal(exc) from exc
        except TransportError as exc:
            raise self._unanswered(intent, exc) from exc
        return self._activate(intent, answer)

    def _unanswered(self, intent: ChannelItem, exc: TransportError) -> WeComUnavailable:
        """``add`` got no answer. Unsent (the token call failed, no connection) or answered with an HTTP
        error: nothing can still complete, the intent is freed for the next PUT at once. Otherwise WeCom may
        still make the code: the intent keeps its lease (from now), so no retry adds a second code before
        a search by state can find the first."""
        channel_id = intent["channel_id"]
        if not sent_unanswered(exc):
            stored(
                lambda: self.repo.release_channel_intent(channel_id, intent["updated_at_ms"]), "free intent"
            )
            return WeComUnavailable(f"WeCom did not answer ({exc.reason}); PUT the channel again")
        now = self.clock_ms()
        stored(lambda: self.repo.hold_channel_intent(channel_id, intent["updated_at_ms"], now), "hold intent")
        return WeComUnavailable(
            f"WeCom did not answer in time ({exc.reason}) and may still create the code: PUT the channel "
            f"again in {INTENT_GRACE_MS // 1000} s, it then finds and keeps that code",
        )

    def _activate(self, intent: ChannelItem, answer: dict[str, str]) -> dict[str, Any]:
        """Record the code WeCom answered on the intent (status active)."""
        record = cast("ChannelItem", {**intent, **answer, "status": ACTIVE, "updated_at_ms": self.clock_ms()})
        ok, written = stored(lambda: self.repo.activate_channel(record), "activate")
        if ok and written:
            return public_view(record)
        if ok:  # someone recorded a code first (reconcile's repair): answer what is stored
            current = self.repo.get_channel(intent["channel_id"])
            if current is not None:
                return public_view(current)
        stored(
            lambda: self.repo.release_channel_intent(intent["channel_id"], intent["updated_at_ms"]), "free"
        )
        return public_view(record) | {"stored": False, "warnings": [NOT_STORED]}

    def _resume(self, intent: ChannelItem, fields: dict[str, Any], now: int) -> dict[str, Any]:
        """A PUT of a channel whose intent never became a code: after the grace period, claim it, look for
        the code WeCom may hold with this state (adopt it), else ask WeCom again."""
        channel_id = intent["channel_id"]
        age = now - int(intent.get("updated_at_ms") or 0)
        if age < INTENT_GRACE_MS:
            wait = -(-(INTENT_GRACE_MS - age) // 1000)
            raise InvalidState(f"channel {channel_id} is being created by another request: retry in {wait} s")
        if not self.repo.claim_channel_intent(channel_id, int(intent.get("updated_at_ms") or 0), now):
            raise InvalidState(f"channel {channel_id} is being repaired by another request: retry")
        claimed = _with_fields(intent, fields, now)
        try:
            with self._wecom() as client:
                found = find_by_state(client, channel_id, int(intent["created_at_ms"]) // 1000, now // 1000)
        except DomainError:  # WeCom could not be asked: free the intent for the next try
            stored(lambda: self.repo.release_channel_intent(channel_id, now), "free intent")
            raise
        if found is None:
            return self._add(claimed)
        logger.info("channel %s: adopting the code WeCom made for its intent", channel_id)
        as_held = cast(
            "ChannelItem",
            {key: value for key, value in claimed.items() if key != "remark"} | _held_fields(found),
        )
        adopted = self._activate(as_held, _code_of(found))
        if adopted.get("stored") is False:
            return adopted
        current = self.repo.get_channel(channel_id) or cast("ChannelItem", adopted)
        return self._update(current, fields, self.clock_ms())

    def _recreate(self, gone: ChannelItem, fields: dict[str, Any], now: int) -> dict[str, Any]:
        """A PUT of a channel whose code WeCom no longer has: a new code (the old one is dead anyway)."""
        kept = {
            key: value
            for key, value in _with_fields(gone, fields, now).items()
            if key not in ("config_id", "qr_code")
        }
        intent = cast("ChannelItem", kept | {"status": PENDING, "created_at_ms": now})
        if not self.repo.replace_channel(intent, int(gone["updated_at_ms"])):
            raise InvalidState(f"channel {gone['channel_id']} was changed by another request: PUT it again")
        return self._add(intent)

    def _update(self, existing: ChannelItem, fields: dict[str, Any], now: int) -> dict[str, Any]:
        """``update_contact_way`` with what changed in WeCom's fields, then the record (over the version read)."""
        channel_id = existing["channel_id"]
        wanted = _with_fields(existing, fields, now)
        if code_type(existing["members"]) != code_type(wanted["members"]):
            raise ValidationError(
                "members",
                "WeCom cannot turn a single-member code into a multi-member one or back: delete the "
                "channel and create it again (its QR code changes)",
            )
        changes = update_changes(channel_view(existing), channel_view(wanted))
        if changes:
            with self._wecom() as client:
                contact_ways.update(client, existing["config_id"], changes)
        ok, written = stored(
            lambda: self.repo.replace_channel(wanted, int(existing["updated_at_ms"])), "update"
        )
        if ok and not written:
            raise InvalidState(
                f"channel {channel_id} was changed by a concurrent request while this one updated WeCom: "
                "PUT it again so WeCom and the store agree"
            )
        if not ok:
            return public_view(wanted) | {"stored": False, "warnings": [NOT_STORED]}
        return public_view(wanted)

    # ------------------------------------------------------------------------------------------ reads
    def get_channel(self, channel_id: str) -> dict[str, Any]:
        channel = self.repo.get_channel(validate_channel_id(channel_id))
        if channel is None:
            raise NotFound(f"channel {channel_id} does not exist")
        return public_view(channel)

    def list_channels(self, params: dict[str, str]) -> dict[str, Any]:
        """Channels by id, a page at a time (``cursor``, ``limit``)."""
        cursor = cursors.unseal(LIST_SCOPE, params["cursor"]) if params.get("cursor") else None
        if not isinstance(cursor, str | None):
            raise ValidationError("cursor", "is not a cursor this API gave out for this listing")
        page = self.repo.list_channels(page_size(params.get("limit")), cursor)
        return {
            "items": [public_view(cast("ChannelItem", item)) for item in page.items],
            "cursor": page.cursor and cursors.seal(LIST_SCOPE, page.cursor),
        }

    # ------------------------------------------------------------------------------------------ DELETE
    def delete_channel(self, channel_id: str) -> None:
        """``DELETE /admin/channels/{id}``: WeCom's ``del`` (a code WeCom no longer has is not an error), then
        the item. A pending intent's code is looked for first, so deleting never leaves an orphan."""
        channel = self.repo.get_channel(validate_channel_id(channel_id))
        if channel is None:
            raise NotFound(f"channel {channel_id} does not exist")
        config_id = channel.get("config_id")
        with self._wecom() as client:
            if config_id is None and channel["status"] == PENDING:
                config_id = self._pending_code(client, channel)
            if config_id and channel["status"] != GONE:
                try:
                    contact_ways.delete(client, config_id)
                except WeComError as exc:
                    if exc.errcode != Errcode.CONTACT_WAY_INVALID_CONFIG_ID:
                        raise
                    logger.info("channel %s: WeCom had already deleted its code", channel_id)
        self.repo.delete_channel(channel_id)

    def _pending_code(self, client: WeComClient, intent: ChannelItem) -> str | None:
        now = self.clock_ms()
        if now - int(intent.get("updated_at_ms") or 0) < INTENT_GRACE_MS:
            raise InvalidState(f"channel {intent['channel_id']} is being created: retry in a few seconds")
        found = find_by_state(client, intent["channel_id"], int(intent["created_at_ms"]) // 1000, now // 1000)
        return None if found is None else str(found["config_id"])


def _welcome_field(index: int, msgtype: str, ref_field: str) -> str:
    return f"welcome.attachments[{index}].{msgtype}.{ref_field}"


def _held_fields(way: dict[str, Any]) -> dict[str, Any]:
    """The WeCom fields of an adopted code as WeCom holds them (the update that follows brings them in
    line with the PUT)."""
    held = wecom_view(way)
    record = {"members": held["members"], "skip_verify": held["skip_verify"]}
    return record | ({"remark": held["remark"]} if held["remark"] else {})


def _code_of(way: dict[str, Any]) -> dict[str, str]:
    return {"config_id": str(way["config_id"]), "qr_code": str(way.get("qr_code") or "")}


def sent_unanswered(exc: TransportError) -> bool:
    """Whether a failed ``add_contact_way`` may still complete in WeCom: the request may have reached it
    (not the token call, not a failed connect) and no HTTP answer closed it."""
    reached = exc.path.endswith("add_contact_way") and exc.reason != "ConnectTimeout"
    return reached and exc.status is None


def find_by_state(client: WeComClient, state: str, since: int, until: int) -> dict[str, Any] | None:
    """The contact way WeCom holds with ``state``, created in [since, until] (epoch seconds, with a margin
    for clocks), or None. Every listed code is read with ``get`` (the list answers ids only); of several
    with that state, the smallest config id, the one reconcile keeps too."""
    ids = contact_ways.list_config_ids(client, since - SEARCH_MARGIN_S, until + SEARCH_MARGIN_S)
    for config_id in sorted(ids):
        way = contact_ways.get(client, config_id)
        if way.get("state") == state:
            return way
    return None
