"""Arrivals and the stats reader with their collaborators handed in: tagging within its budget, back-off,
what is counted, and the 30 days the admin API shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from wecom_bundle.channels.arrivals import MIN_TAG_WINDOW_MS, Arrivals
from wecom_bundle.channels.lookup import Channel
from wecom_bundle.channels.stats import COUNTERS, ChannelStatsReader, stats_day
from wecom_bundle.channels.stats_repo import CounterShard
from wecom_bundle.wecom.errors import RateLimitError, TransportError, WeComError

CREATE_TIME = 1764921600  # 2025-12-05 16:00 Asia/Shanghai

pytestmark = pytest.mark.usefixtures("aws_env")  # the dev settings: metrics go nowhere


class FakeClock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms
        self.sleeps: list[float] = []

    def __call__(self) -> int:
        return self.now_ms

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_ms += int(seconds * 1000)


class MemoryRepo:
    """The counters' repository in memory (conditions as in ``stats_repo``)."""

    def __init__(self) -> None:
        self.markers: dict[tuple[str, str], dict[str, Any]] = {}
        self.counts: dict[tuple[str, str], dict[str, int]] = {}

    def _count(self, where: CounterShard, counts: Mapping[str, int]) -> None:
        day = self.counts.setdefault((where.channel_id, where.day), dict.fromkeys(COUNTERS, 0))
        for name, n in counts.items():
            day[name] += n

    def record_arrival(
        self, marker: Mapping[str, Any], where: CounterShard, counts: Mapping[str, int]
    ) -> bool:
        pair = (marker["external_userid"], marker["userid"])
        old = self.markers.get(pair)
        if old is not None and old["create_time"] >= marker["create_time"]:
            return False
        self.markers[pair] = dict(marker)
        self._count(where, counts)
        return True

    def record_tagging(
        self,
        ext: str,
        user: str,
        ct: int,  # noqa: ARG002
        outcome: str,
        errcode: int | None,
        where: CounterShard,
    ) -> bool:
        marker = self.markers[(ext, user)]
        marker.update(tag_state=outcome, tag_errcode=errcode)
        self._count(where, {outcome: 1})
        return True

    def get_arrival(self, ext: str, user: str) -> dict[str, Any] | None:
        return self.markers.get((ext, user))

    def record_loss(self, ext: str, user: str, ct: int, loss: Mapping[str, Any], where: CounterShard) -> bool:  # noqa: ARG002
        self.markers[(ext, user)].update(loss)
        self._count(where, {"lost": 1})
        return True


class ScriptedTags:
    """mark_tag answering from a script: an exception to raise, or None for success."""

    def __init__(self, clock: FakeClock, *script: Exception | None, call_ms: int = 50) -> None:
        self.clock, self.script, self.call_ms = clock, list(script), call_ms
        self.calls: list[tuple[str, str, list[str], Any]] = []

    def mark_tag(self, client: Any, userid: str, ext: str, add_tag: Sequence[str], *, timeout: Any) -> None:  # noqa: ARG002
        self.calls.append((userid, ext, list(add_tag), timeout))
        self.clock.now_ms += min(self.call_ms, int(sum(timeout) * 1000))  # a call never outlives its timeout
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome


def _event(ext: str = "wmA", create_time: int = CREATE_TIME) -> dict[str, Any]:
    return {"ExternalUserID": ext, "UserID": "zhangsan", "CreateTime": create_time, "State": "expo"}


def _arrivals(clock: FakeClock, tags: ScriptedTags, repo: MemoryRepo) -> Arrivals:
    return Arrivals(lambda: None, "Asia/Shanghai", repo=repo, api=tags, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


EXPO = Channel("expo", None, ("etTagExpo",))


def test_transient_faults_are_retried_with_back_off_then_tagged() -> None:
    clock, repo = FakeClock(CREATE_TIME * 1000), MemoryRepo()
    tags = ScriptedTags(clock, TransportError("x", "ConnectionError"), RateLimitError(45033, "busy", "x"))
    assert _arrivals(clock, tags, repo).arrive(EXPO, _event(), "sent", clock()) == "tagged"
    assert len(tags.calls) == 3
    assert len(clock.sleeps) == 2 and clock.sleeps[1] > clock.sleeps[0] / 3  # back-off with jitter
    assert repo.counts[("expo", "2025-12-05")] == {
        **dict.fromkeys(COUNTERS, 0),
        "added": 1,
        "welcomed": 1,
        "tagged": 1,
    }


def test_tagging_gives_up_when_the_budget_is_spent_and_counts_the_failure() -> None:
    clock, repo = FakeClock(CREATE_TIME * 1000), MemoryRepo()
    received = clock()
    tags = ScriptedTags(clock, *[TransportError("x", "HTTP 502", 502)] * 100, call_ms=300)
    assert _arrivals(clock, tags, repo).arrive(EXPO, _event(), "sent", received) == "tag_failed"
    assert clock() - received <= 4000  # the default budget from receipt
    assert all(sum(timeout) <= 3.0 for *_, timeout in tags.calls)
    assert repo.markers[("wmA", "zhangsan")]["tag_state"] == "tag_failed"
    assert repo.counts[("expo", "2025-12-05")]["tag_failed"] == 1


def test_after_a_slow_welcome_the_tags_still_get_a_window() -> None:
    clock, repo = FakeClock(CREATE_TIME * 1000), MemoryRepo()
    received = clock() - 15_000  # the welcome took 15 s (retries until its deadline)
    tags = ScriptedTags(clock, *[WeComError(-1, "busy", "x")] * 100, call_ms=100)
    started = clock()
    assert _arrivals(clock, tags, repo).arrive(EXPO, _event(), "sent", received) == "tag_failed"
    assert MIN_TAG_WINDOW_MS - 200 <= clock() - started <= MIN_TAG_WINDOW_MS


@pytest.mark.parametrize("errcode", [40068, 84061, 40003])
def test_a_final_refusal_is_not_retried(errcode: int) -> None:
    clock, repo = FakeClock(CREATE_TIME * 1000), MemoryRepo()
    tags = ScriptedTags(clock, WeComError(errcode, "no", "x"))
    assert _arrivals(clock, tags, repo).arrive(EXPO, _event(), "sent", clock()) == "tag_failed"
    assert len(tags.calls) == 1 and clock.sleeps == []
    assert repo.markers[("wmA", "zhangsan")]["tag_errcode"] == errcode


def test_what_is_counted_per_outcome_and_without_tags() -> None:
    clock, repo = FakeClock(CREATE_TIME * 1000), MemoryRepo()
    arrivals = _arrivals(clock, ScriptedTags(clock), repo)
    bare = Channel("bare", None, ())
    for ext, outcome in (("wm1", "sent"), ("wm2", "already_sent"), ("wm3", "expired"), ("wm4", None)):
        assert arrivals.arrive(bare, _event(ext), outcome, clock()) == "counted"
    assert arrivals.arrive(bare, _event("wm1"), "sent", clock()) == "duplicate"
    assert repo.counts[("bare", "2025-12-05")] == {**dict.fromkeys(COUNTERS, 0), "added": 4, "welcomed": 2}


def test_the_day_is_the_events_day_in_the_time_zone_never_a_future_one() -> None:
    clock, repo = FakeClock(CREATE_TIME * 1000), MemoryRepo()
    arrivals = _arrivals(clock, ScriptedTags(clock), repo)
    bare = Channel("bare", None, ())
    arrivals.arrive(bare, _event("wm1", CREATE_TIME + 9 * 3600), None, clock())  # CreateTime in the future
    arrivals.arrive(bare, _event("wm2", CREATE_TIME - 17 * 3600), None, clock())  # 23:00 the day before
    assert set(repo.counts) == {("bare", "2025-12-05"), ("bare", "2025-12-04")}


def test_losses_outcomes() -> None:
    clock, repo = FakeClock(CREATE_TIME * 1000 + 60_000), MemoryRepo()
    arrivals = _arrivals(clock, ScriptedTags(clock), repo)
    arrivals.arrive(Channel("bare", None, ()), _event("wm1"), "sent", clock())
    loss = {**_event("wm1", CREATE_TIME + 30), "ChangeType": "del_follow_user"}
    assert arrivals.lose({**loss, "ExternalUserID": "wmOther"}) == "no_channel"
    assert arrivals.lose({**loss, "CreateTime": CREATE_TIME - 1}) == "before_arrival"
    transfer = {**loss, "ChangeType": "del_external_contact", "Source": "DELETE_BY_TRANSFER"}
    assert arrivals.lose(transfer) == "transferred"
    assert arrivals.lose(loss) == "lost"
    assert arrivals.lose({**loss, "ChangeType": "del_external_contact"}) == "duplicate"
    assert repo.counts[("bare", "2025-12-05")]["lost"] == 1


def test_the_reader_answers_thirty_days_oldest_first_with_totals() -> None:
    asked: list[tuple[str, str, str]] = []

    def query(channel_id: str, first: str, last: str) -> list[dict[str, Any]]:
        asked.append((channel_id, first, last))
        return [
            {"day": "2025-12-05", "added": 2, "welcomed": 2, "tagged": 1},
            {"day": "2025-12-05", "added": 1, "tag_failed": 1},  # another shard of the same day
            {"day": "2025-11-06", "lost": 1},
            {"day": "2025-11-05", "added": 9},  # outside the window: ignored
        ]

    stats = ChannelStatsReader(query, "Asia/Shanghai")("expo", CREATE_TIME)
    assert asked == [("expo", "2025-11-06", "2025-12-05")]
    dates = [day["date"] for day in stats["days"]]
    assert (len(dates), dates[0], dates[-1]) == (30, "2025-11-06", "2025-12-05")
    assert stats["days"][-1] == {
        "date": "2025-12-05",
        "added": 3,
        "welcomed": 2,
        "tagged": 1,
        "tag_failed": 1,
        "lost": 0,
    }
    assert stats["days"][0]["lost"] == 1
    assert stats["totals"] == {"added": 3, "welcomed": 2, "tagged": 1, "tag_failed": 1, "lost": 1}
    assert stats_day(CREATE_TIME, "UTC") == "2025-12-05"
