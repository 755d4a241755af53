"""What each channel brings in: day keys, counter shards, and the 30-day reader the admin API shows.

Counters (``COUNTERS``), per channel and day in ``WELCOME_TIMEZONE``:
``added`` add-contact events with the channel's State (once per event, however often WeCom retries it),
``welcomed`` those whose welcome outcome was ``sent`` or ``already_sent``, ``tagged`` / ``tag_failed`` the
outcome of putting the channel's tags on the customer, ``lost`` customers who came through the channel and
later deleted the member or were deleted (counted on the day of the loss, once per arrival).

The reader answers the last ``days`` days, **oldest first** (the order a chart draws them), today included,
every day present (zeros where nothing happened), and their sum as ``totals``. It costs one Query of the
channel's counter partition (30 days x ``STATS_SHARDS`` small items), never a Scan.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

COUNTERS = ("added", "welcomed", "tagged", "tag_failed", "lost")
STATS_DAYS = 30
# Counter items per channel and day. Why several: each counter write is a transaction with the arrival
# marker, and concurrent transactions on one item conflict (and are retried); a burst through one channel
# spreads over the shards. The reader adds them up.
STATS_SHARDS = 8
COUNTER_RETENTION_DAYS = 90  # TTL of a day's counters (the API shows 30 days)
ARRIVAL_RETENTION_DAYS = 400  # TTL of an arrival marker: a loss months after the arrival still counts
DEFAULT_TIMEZONE = "Asia/Shanghai"


def stats_timezone() -> str:
    """The counters' time zone: ``WELCOME_TIMEZONE``, the welcome rules' own (one notion of "a day")."""
    return os.environ.get("WELCOME_TIMEZONE") or DEFAULT_TIMEZONE


def stats_day(epoch_s: float, timezone: str) -> str:
    """The ``YYYY-MM-DD`` day of ``epoch_s`` in ``timezone`` (the counters' day)."""
    return datetime.fromtimestamp(epoch_s, ZoneInfo(timezone)).date().isoformat()


def stats_shard(external_userid: str, userid: str) -> int:
    """The counter shard of a (customer, member) pair: stable, so all its counts land on one item."""
    return zlib.crc32(f"{external_userid}|{userid}".encode()) % STATS_SHARDS


def day_expiry(day: str, retention_days: int) -> int:
    """Epoch seconds ``retention_days`` after the start of ``day`` (UTC midnight is close enough for a TTL)."""
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    return int((start + timedelta(days=retention_days)).timestamp())


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNTERS, 0)


class ChannelStatsReader:
    """``reader(channel_id, now)`` → ``{"days": [{"date", "added", …}, …], "totals": {…}}`` for the last
    ``days`` days in ``timezone``, oldest first. ``query(channel_id, first_day, last_day)`` answers the
    counter items (``channels.stats_repo.query_stats``)."""

    def __init__(
        self,
        query: Callable[[str, str, str], Sequence[Mapping[str, Any]]],
        timezone: str,
        days: int = STATS_DAYS,
    ) -> None:
        self._query = query
        self._timezone = timezone
        self._days = days

    def __call__(self, channel_id: str, now: float) -> dict[str, Any]:
        last = date.fromisoformat(stats_day(now, self._timezone))
        dates = [(last - timedelta(days=back)).isoformat() for back in range(self._days - 1, -1, -1)]
        per_day = {day: _zero() for day in dates}
        for item in self._query(channel_id, dates[0], dates[-1]):
            counts = per_day.get(str(item.get("day")))
            if counts is None:
                continue
            for name in COUNTERS:
                counts[name] += int(item.get(name) or 0)
        totals = _zero()
        for counts in per_day.values():
            for name in COUNTERS:
                totals[name] += counts[name]
        return {"days": [{"date": day, **per_day[day]} for day in dates], "totals": totals}

    read = __call__
