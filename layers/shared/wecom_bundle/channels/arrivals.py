"""What happens after an add-contact event through a channel, and when that customer is lost.

``Arrivals.arrive`` runs after the welcome service has answered (the welcome sent, or known impossible), in
the same callback invocation, so it never delays the welcome. Why not later (a queue): the callback's answer
to WeCom only waits for it, WeCom's 5 s window is the tagging's budget (``CHANNEL_TAG_BUDGET_MS`` from
receipt, default 4 000 ms, at least ``MIN_TAG_WINDOW_MS`` after a slow welcome) and no extra service has to
be deployed and watched. Order of work:

1. the arrival marker (``ARRIVAL#{external_userid}`` / ``USER#{userid}``: which channel brought this customer
   to this member, on which event) is written and ``added`` (and ``welcomed`` when the outcome was ``sent``
   or ``already_sent``) counted, in one transaction conditioned on the marker not holding this event yet:
   a retried or concurrent delivery counts nothing and tags nothing;
2. the channel's tags go on with ``mark_tag``, retried with jittered back-off while the budget lasts
   (network faults, 5xx, rate limits, busy); a refusal that cannot change (unknown tag 40068, not a friend
   84061 …) stops at once;
3. the outcome is counted (``tagged`` or ``tag_failed``) with the marker's ``tag_state``, once; a failure
   is logged with its errcode and the metric ``ChannelTagging{outcome}``: never lost silently.

``Arrivals.lose`` handles ``del_follow_user`` (the customer deleted the member) and ``del_external_contact``
(the member deleted the customer): the pair's marker says which channel brought the customer, and ``lost``
is counted once per arrival on the day of the loss, however many of the two callbacks (and their retries)
come. ``del_external_contact`` with ``Source`` ``DELETE_BY_TRANSFER`` is a handover to another member
(在职继承), not a loss: it is not counted.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from wecom_bundle import telemetry
from wecom_bundle.channels import stats_repo
from wecom_bundle.channels.lookup import Channel
from wecom_bundle.channels.stats import (
    ARRIVAL_RETENTION_DAYS,
    COUNTER_RETENTION_DAYS,
    day_expiry,
    stats_day,
    stats_shard,
)
from wecom_bundle.channels.stats_repo import CounterShard
from wecom_bundle.wecom import tags as wecom_tags
from wecom_bundle.wecom.client import Timeout, WeComClient
from wecom_bundle.wecom.errors import TransportError, WeComError

logger = logging.getLogger(__name__)

WELCOMED_OUTCOMES = frozenset({"sent", "already_sent"})
TRANSFER_SOURCE = "DELETE_BY_TRANSFER"  # del_external_contact's Source for a handover (在职继承)
DEFAULT_TAG_BUDGET_MS = 4000  # from receipt: the answer to WeCom stays inside its 5 s window
MIN_TAG_WINDOW_MS = 1500  # after a slow welcome, still this long for the tags (the function has 25 s)
ATTEMPT_CONNECT_TIMEOUT_S = 1.0
ATTEMPT_READ_TIMEOUT_S = 2.0
LAST_ATTEMPT_S = 0.1


class TagsApi(Protocol):
    """WeCom's tag call the arrivals make (``wecom_bundle.wecom.tags``)."""

    def mark_tag(
        self,
        client: WeComClient,
        userid: str,
        external_userid: str,
        add_tag: Sequence[str],
        *,
        timeout: Timeout,
    ) -> None: ...


class ArrivalRepo(Protocol):
    """The channel counters' repository functions (``wecom_bundle.channels.stats_repo``)."""

    def record_arrival(
        self, marker: Mapping[str, Any], where: CounterShard, counts: Mapping[str, int]
    ) -> bool: ...

    def record_tagging(
        self,
        external_userid: str,
        userid: str,
        create_time: int,
        outcome: str,
        errcode: int | None,
        where: CounterShard,
    ) -> bool: ...

    def get_arrival(self, external_userid: str, userid: str) -> dict[str, Any] | None: ...

    def record_loss(
        self,
        external_userid: str,
        userid: str,
        create_time: int,
        loss: Mapping[str, Any],
        where: CounterShard,
    ) -> bool: ...


class TaggingOutcome(StrEnum):
    """What became of an arrival's tags (the marker's ``tagging`` and the counter of the same name)."""

    TAGGED = "tagged"
    TAG_FAILED = "tag_failed"


@dataclass
class Tagging:
    outcome: TaggingOutcome
    errcode: int | None = None
    attempts: int = 0
    reason: str | None = None  # a network fault's type or an HTTP status, when there was no errcode


def _now_ms() -> int:
    return int(time.time() * 1000)


class Arrivals:
    """One container's arrival and loss handling. Collaborators come in (``runtime.channel_arrivals()``): the
    WeCom client (asked when a call is about to be made), the tag API area, the counters' repository, the
    counters' time zone, the tagging budget, a clock and a sleep."""

    def __init__(
        self,
        wecom: Callable[[], WeComClient],
        timezone: str,
        *,
        repo: ArrivalRepo = stats_repo,
        api: TagsApi = wecom_tags,
        tag_budget_ms: int = DEFAULT_TAG_BUDGET_MS,
        clock: Callable[[], int] = _now_ms,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.wecom = wecom
        self.timezone = timezone
        self.repo = repo
        self.api = api
        self.tag_budget_ms = tag_budget_ms
        self.clock = clock
        self.sleep = sleep

    # -------------------------------------------------------------------------------------------- arrivals
    def arrive(
        self, channel: Channel, event: Mapping[str, str | int], welcome_outcome: str | None, received_ms: int
    ) -> str:
        """Count the event and tag the customer; answers ``counted``, ``tagged``, ``tag_failed`` or
        ``duplicate`` (this event was counted before)."""
        external_userid, userid = str(event["ExternalUserID"]), str(event["UserID"])
        create_time = int(event["CreateTime"])
        day = stats_day(min(create_time, received_ms // 1000), self.timezone)
        where = self._shard(channel.channel_id, day, external_userid, userid)
        marker = {
            "channel_id": channel.channel_id,
            "external_userid": external_userid,
            "userid": userid,
            "create_time": create_time,
            "day": day,
            "welcome_outcome": welcome_outcome,
            "tag_state": "pending" if channel.tags else "none",
            "arrived_at_ms": self.clock(),
            "expires_at": day_expiry(day, ARRIVAL_RETENTION_DAYS),
        }
        counts = {"added": 1, "welcomed": int(welcome_outcome in WELCOMED_OUTCOMES)}
        if not self.repo.record_arrival(marker, where, counts):
            return "duplicate"
        if not channel.tags:
            return "counted"
        tagging = self._tag(channel.tags, userid, external_userid, received_ms)
        self.repo.record_tagging(
            external_userid, userid, create_time, tagging.outcome, tagging.errcode, where
        )
        self._report(channel, tagging)
        return tagging.outcome

    def _shard(self, channel_id: str, day: str, external_userid: str, userid: str) -> CounterShard:
        return CounterShard(
            channel_id,
            day,
            stats_shard(external_userid, userid),
            day_expiry(day, COUNTER_RETENTION_DAYS),
        )

    def _tag(self, tags: Sequence[str], userid: str, external_userid: str, received_ms: int) -> Tagging:
        deadline_ms = max(received_ms + self.tag_budget_ms, self.clock() + MIN_TAG_WINDOW_MS)
        tagging, backoff = Tagging(TaggingOutcome.TAG_FAILED), 0.1
        while True:
            left_s = (deadline_ms - self.clock()) / 1000
            if left_s < LAST_ATTEMPT_S:
                return tagging
            connect_s = min(ATTEMPT_CONNECT_TIMEOUT_S, left_s / 2)
            timeout = (connect_s, min(ATTEMPT_READ_TIMEOUT_S, left_s - connect_s))  # never past the deadline
            tagging.attempts += 1
            try:
                self.api.mark_tag(self.wecom(), userid, external_userid, tags, timeout=timeout)
                return Tagging(TaggingOutcome.TAGGED, attempts=tagging.attempts)
            except WeComError as exc:
                tagging.errcode, tagging.reason = exc.errcode, None
                if not exc.retryable:
                    return tagging  # a refusal that a retry cannot change
            except TransportError as exc:
                tagging.errcode, tagging.reason = None, exc.reason
            jittered = backoff * (0.5 + random.random())  # noqa: S311 - jitter only
            pause = min(jittered, (deadline_ms - self.clock()) / 1000 - LAST_ATTEMPT_S)
            if pause <= 0:
                return tagging
            self.sleep(pause)
            backoff = min(backoff * 2, 1.0)

    @staticmethod
    def _report(channel: Channel, tagging: Tagging) -> None:
        telemetry.count("ChannelTagging", {"outcome": tagging.outcome})
        fields = {
            "channel_id": channel.channel_id,
            "outcome": tagging.outcome,
            "errcode": tagging.errcode,
            "reason": tagging.reason,
            "attempts": tagging.attempts,
        }
        if tagging.outcome == TaggingOutcome.TAGGED:
            logger.info("channel tags added", extra=fields)
        else:
            logger.warning("channel tags failed", extra=fields)

    # -------------------------------------------------------------------------------------------- losses
    def lose(self, event: Mapping[str, str | int]) -> str:
        """Count a loss callback against the channel that brought the pair; answers ``lost``, ``duplicate``
        (counted before), ``no_channel`` (the pair did not come through a channel), ``before_arrival`` (the
        callback is about an earlier relationship) or ``transferred`` (a handover, not a loss)."""
        change = str(event.get("ChangeType", ""))
        if change == "del_external_contact" and event.get("Source") == TRANSFER_SOURCE:
            return "transferred"
        external_userid, userid = str(event["ExternalUserID"]), str(event["UserID"])
        create_time = int(event["CreateTime"])
        marker = self.repo.get_arrival(external_userid, userid)
        if marker is None:
            return "no_channel"
        if marker.get("lost_at") is not None:
            return "duplicate"
        if create_time < int(marker["create_time"]):
            return "before_arrival"
        day = stats_day(min(create_time, self.clock() // 1000), self.timezone)
        where = self._shard(str(marker["channel_id"]), day, external_userid, userid)
        loss = {"lost_at": create_time, "lost_by": change}
        counted = self.repo.record_loss(external_userid, userid, int(marker["create_time"]), loss, where)
        return "lost" if counted else "duplicate"
