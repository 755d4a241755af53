"""The callback's reader of channels: the channel an add-contact event's ``State`` names, from memory.

Why a per-State GetItem with a short TTL rather than reading the whole partition like the rule cache: a corp
may hold thousands of channels (WeCom allows 500 000 contact ways), and one container sees only the few
States its events carry. Each State is read at most once per ``ttl_s`` (``CHANNEL_CACHE_SECONDS``, default
10 s) and a State that names no channel is remembered as such for as long (negative caching), so the warm
path costs no DynamoDB round trip; a cold State costs one eventually consistent GetItem of a few attributes.
A State that cannot be a channel id (not 1-30 of ``A-Za-z0-9_-``) is never looked up.

A failed read must not lose the welcome: ``find`` never raises. It serves the entry it had (stale) and
tries again soon, or answers None (the welcome rules apply) and logs that it did, with the error's type
only. On the hot path: no pydantic, only the ``dynamo`` plumbing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from wecom_bundle import telemetry
from wecom_bundle.channels.model import ACTIVE, CHANNEL_ID_PATTERN, PENDING
from wecom_bundle.dynamo.client import client
from wecom_bundle.dynamo.codec import decode_item, encode_item
from wecom_bundle.dynamo.keys import channel_key
from wecom_bundle.dynamo.table import table_name

if TYPE_CHECKING:
    from wecom_bundle.channels.model import ChannelItem

logger = logging.getLogger(__name__)

LIVE_STATUSES = frozenset({PENDING, ACTIVE})  # a ``gone`` channel's welcome and tags no longer apply
RULE_ID_PREFIX = "channel:"  # the welcome log's ``rule_id`` of a channel's welcome: ``channel:{channel_id}``
DEFAULT_TTL_S = 10.0
MAX_ENTRIES = 4096  # States remembered per container (hostile States cannot grow memory without bound)
_PROJECTION = "channel_id, #st, welcome, tags"


@dataclass(frozen=True)
class Channel:
    """What the callback needs of a channel: its welcome content (or None) and its tag ids."""

    channel_id: str
    welcome: Mapping[str, Any] | None
    tags: tuple[str, ...]

    def welcome_rule(self) -> dict[str, Any] | None:
        """The channel's welcome as a rule the welcome service sends (``rule_id`` ``channel:{id}``), or None
        when the channel has no welcome (then the welcome rules apply)."""
        if not self.welcome:
            return None
        return {
            "rule_id": f"{RULE_ID_PREFIX}{self.channel_id}",
            "text": self.welcome.get("text"),
            "attachments": list(self.welcome.get("attachments") or []),
        }


def channel_from_item(item: Mapping[str, Any] | None) -> Channel | None:
    """A live channel from its stored record; None for no record or a ``gone`` one."""
    if not item or item.get("status") not in LIVE_STATUSES:
        return None
    welcome = item.get("welcome")
    tags = tuple(str(tag) for tag in item.get("tags") or ())
    return Channel(str(item["channel_id"]), welcome if isinstance(welcome, Mapping) else None, tags)


def load_channel(channel_id: str) -> ChannelItem | None:
    """The channel record's hot-path attributes: one eventually consistent GetItem (the cache's TTL is a
    staleness the product accepts anyway)."""
    answer = client().get_item(
        TableName=table_name(),
        Key=encode_item(channel_key(channel_id)),
        ProjectionExpression=_PROJECTION,
        ExpressionAttributeNames={"#st": "status"},
    )
    return cast("ChannelItem", decode_item(answer["Item"])) if "Item" in answer else None


class ChannelLookup:
    """One container's channels by State: read once per ``ttl_s``, absent ones remembered too."""

    def __init__(
        self,
        load: Callable[[str], Mapping[str, Any] | None] = load_channel,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, Channel | None]] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, state: object) -> Channel | None:
        """The live channel ``state`` names, or None (no such channel, ``gone``, or unreadable now)."""
        if not isinstance(state, str) or not CHANNEL_ID_PATTERN.fullmatch(state):
            return None
        with self._lock:
            cached = self._entries.get(state)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        return self._refresh(state, cached)

    def _refresh(self, state: str, cached: tuple[float, Channel | None] | None) -> Channel | None:
        try:
            channel = channel_from_item(self._load(state))
        except Exception as exc:
            stale = cached[1] if cached is not None else None
            logger.warning(
                "channel lookup failed; welcome rules apply" if stale is None else "channel lookup failed",
                extra={"error": type(exc).__name__, "served": "stale" if stale else "rules"},
            )
            telemetry.count("ChannelLookupFailed", {"served": "stale" if stale else "rules"})
            self._remember(state, stale, self._ttl_s / 4)  # try again soon, not on every event
            return stale
        self._remember(state, channel, self._ttl_s)
        return channel

    def _remember(self, state: str, channel: Channel | None, ttl_s: float) -> None:
        with self._lock:
            self._entries[state] = (self._clock() + ttl_s, channel)
            self._entries.move_to_end(state)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
