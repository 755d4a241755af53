"""Channel counters raced by threads against AWS DynamoDB Local: one event delivered twice at once counts
(and tags) once; one loss reported by both callbacks at once counts once; many arrivals at once through one
channel all count (transactions on one counter item conflict in DynamoDB and are retried).

moto serialises requests; DynamoDB Local runs transactions and their conflicts like the real service.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from tests.integration.test_welcome_dynamodb_local import on_dynamodb_local  # noqa: F401 - the fixture
from tests.support import race
from wecom_bundle.channels import stats_repo
from wecom_bundle.channels.arrivals import Arrivals
from wecom_bundle.channels.lookup import Channel
from wecom_bundle.channels.stats import ChannelStatsReader

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("on_dynamodb_local")]


class CountingTags:
    """mark_tag that only counts its calls (thread-safe)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def mark_tag(self, client: Any, userid: str, ext: str, add_tag: Sequence[str], *, timeout: Any) -> None:  # noqa: ARG002
        with self._lock:
            self.calls += 1


def _arrivals(tags: CountingTags) -> Arrivals:
    return Arrivals(lambda: None, "Asia/Shanghai", repo=stats_repo, api=tags)  # type: ignore[arg-type]


def _totals(channel_id: str) -> dict[str, int]:
    return dict(
        ChannelStatsReader(stats_repo.query_stats, "Asia/Shanghai")(channel_id, time.time())["totals"]
    )


def _event(ext: str, create_time: int, change: str = "add_external_contact") -> dict[str, Any]:
    return {"ExternalUserID": ext, "UserID": "zhangsan", "CreateTime": create_time, "ChangeType": change}


def test_two_deliveries_of_one_event_at_once_count_and_tag_once() -> None:
    channel = Channel(f"race-{uuid.uuid4().hex[:8]}", None, ("etTagExpo",))
    tags, now = CountingTags(), int(time.time())
    outcomes = race(2, lambda _: _arrivals(tags).arrive(channel, _event("wmRace", now), "sent", now * 1000))
    assert sorted(outcomes) == ["duplicate", "tagged"]
    assert tags.calls == 1
    assert _totals(channel.channel_id) == {"added": 1, "welcomed": 1, "tagged": 1, "tag_failed": 0, "lost": 0}


def test_both_loss_callbacks_at_once_count_one_loss() -> None:
    channel = Channel(f"loss-{uuid.uuid4().hex[:8]}", None, ())
    tags, now = CountingTags(), int(time.time())
    ext = f"wm{uuid.uuid4().hex[:10]}"
    assert _arrivals(tags).arrive(channel, _event(ext, now - 60), "sent", now * 1000) == "counted"
    changes = ["del_follow_user", "del_external_contact"] * 2
    outcomes = race(4, lambda i: _arrivals(tags).lose(_event(ext, now, changes[i])))
    assert sorted(outcomes) == ["duplicate", "duplicate", "duplicate", "lost"]
    assert _totals(channel.channel_id)["lost"] == 1


def test_a_burst_through_one_channel_counts_every_arrival() -> None:
    channel = Channel(f"burst-{uuid.uuid4().hex[:8]}", None, ("etTagExpo",))
    tags, now = CountingTags(), int(time.time())
    outcomes = race(
        24, lambda i: _arrivals(tags).arrive(channel, _event(f"wmB{i:03d}", now), "sent", now * 1000)
    )
    assert outcomes == ["tagged"] * 24
    assert _totals(channel.channel_id) == {
        "added": 24,
        "welcomed": 24,
        "tagged": 24,
        "tag_failed": 0,
        "lost": 0,
    }
