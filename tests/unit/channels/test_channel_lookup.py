"""The callback's channel reader: what it caches, for how long, what it never looks up, and that a failed
read never raises (the welcome rules apply, or the entry it had is served)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import put_channel_record
from wecom_bundle.channels.lookup import Channel, ChannelLookup, load_channel

pytestmark = pytest.mark.usefixtures("aws_env")  # the dev settings: metrics go nowhere


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Store:
    """Channel records by id, counting reads; ``broken`` makes every read fail."""

    def __init__(self, **records: dict[str, Any]) -> None:
        self.records = records
        self.reads: list[str] = []
        self.broken = False

    def load(self, channel_id: str) -> dict[str, Any] | None:
        self.reads.append(channel_id)
        if self.broken:
            raise TimeoutError("read timed out")
        return self.records.get(channel_id)


def _record(channel_id: str, status: str = "active", **extra: Any) -> dict[str, Any]:
    return {"channel_id": channel_id, "status": status, "tags": ["etTagVip"], **extra}


def test_a_channel_is_read_once_per_ttl() -> None:
    store, clock = Store(expo=_record("expo", welcome={"text": {"content": "hi"}})), Clock()
    lookup = ChannelLookup(store.load, ttl_s=10, clock=clock)
    first = lookup.find("expo")
    assert first == Channel("expo", {"text": {"content": "hi"}}, ("etTagVip",))
    clock.now += 9.9
    assert lookup.find("expo") is first
    assert store.reads == ["expo"]
    clock.now += 0.2
    lookup.find("expo")
    assert store.reads == ["expo", "expo"]


def test_a_state_without_a_channel_is_remembered_too() -> None:
    store, clock = Store(), Clock()
    lookup = ChannelLookup(store.load, ttl_s=10, clock=clock)
    assert lookup.find("web") is None
    assert lookup.find("web") is None
    assert store.reads == ["web"]


@pytest.mark.parametrize("state", ["", "a" * 31, "渠道", "expo#1", "expo 1", None, 7])
def test_a_state_that_cannot_be_a_channel_id_is_never_read(state: Any) -> None:
    store = Store()
    assert ChannelLookup(store.load).find(state) is None
    assert store.reads == []


def test_only_pending_and_active_channels_apply() -> None:
    store = Store(a=_record("a", "pending"), b=_record("b", "active"), c=_record("c", "gone"))
    lookup = ChannelLookup(store.load)
    assert [lookup.find(x) is not None for x in "abc"] == [True, True, False]


def test_a_failed_read_answers_none_and_is_retried_soon(caplog: pytest.LogCaptureFixture) -> None:
    store, clock = Store(expo=_record("expo")), Clock()
    store.broken = True
    lookup = ChannelLookup(store.load, ttl_s=10, clock=clock)
    assert lookup.find("expo") is None
    assert lookup.find("expo") is None  # not a read per event while DynamoDB is down
    assert store.reads == ["expo"]
    assert [r.getMessage() for r in caplog.records] == ["channel lookup failed; welcome rules apply"]
    store.broken = False
    clock.now += 2.6  # a quarter of the TTL
    assert lookup.find("expo") is not None


def test_a_failed_refresh_serves_the_channel_it_had() -> None:
    store, clock = Store(expo=_record("expo")), Clock()
    lookup = ChannelLookup(store.load, ttl_s=10, clock=clock)
    known = lookup.find("expo")
    store.broken = True
    clock.now += 11
    assert lookup.find("expo") is known


def test_memory_is_bounded() -> None:
    store = Store()
    lookup = ChannelLookup(store.load, max_entries=3)
    for state in ("s1", "s2", "s3", "s4", "s1"):
        lookup.find(state)
    assert store.reads == ["s1", "s2", "s3", "s4", "s1"]  # s1 was dropped to keep three


def test_the_welcome_rule_of_a_channel() -> None:
    content = {
        "text": {"content": "hi"},
        "attachments": [{"msgtype": "link", "link": {"title": "t", "url": "u"}}],
    }
    rule = Channel("expo", content, ()).welcome_rule()
    assert rule == {
        "rule_id": "channel:expo",
        "text": {"content": "hi"},
        "attachments": content["attachments"],
    }
    assert Channel("expo", None, ("etTagVip",)).welcome_rule() is None


@pytest.mark.usefixtures("moto_table")
def test_load_channel_reads_the_stored_record() -> None:
    put_channel_record("expo", welcome={"text": {"content": "hi"}}, tags=["etTagExpo"])
    assert load_channel("expo") == {
        "channel_id": "expo",
        "status": "active",
        "welcome": {"text": {"content": "hi"}},
        "tags": ["etTagExpo"],
    }
    assert load_channel("nope") is None
