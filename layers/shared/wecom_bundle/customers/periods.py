"""The period of WeCom's per-customer mass-send cap that an epoch second falls in.

Why its own module: WeCom lets each customer receive at most N mass messages per period (WeCom「创建企业群发」): by
default N = the number of days in the calendar month, or 7 per ISO week (Monday to Sunday), or 1 per day,
as the corp configured it (``MASS_SEND_CUSTOMER_LIMIT``). Periods follow the corp's calendar
(``WELCOME_TIMEZONE``), not UTC: at 23:30 UTC on Dec 31 it is already Jan 1 in Shanghai. The counters
(``tally``) are kept per local day, so every rule is a set of local days and one stored shape serves all three.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

RULES = ("month", "week", "day")


@dataclass(frozen=True)
class Period:
    """One period of a rule: its id (``2026-12``, ``2026-W49``, ``2026-12-05``), its local days, the epoch
    seconds it spans (``start`` inclusive, ``end`` exclusive) and the cap N that applies in it."""

    rule: str
    id: str
    days: tuple[date, ...]
    start: int
    end: int
    limit: int

    def months(self) -> tuple[str, ...]:
        """The local months (``YYYY-MM``) its days fall in: one, or two for a week across a month's end."""
        return tuple(dict.fromkeys(month_of(day) for day in self.days))


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(at: int, tz: str) -> date:
    """The corp's calendar day of an epoch second."""
    return datetime.fromtimestamp(int(at), zone(tz)).date()


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _midnight(day: date, tz: str) -> int:
    return int(datetime.combine(day, time(0), zone(tz)).timestamp())


def period_of(rule: str, at: int, tz: str) -> Period:
    """The period of ``rule`` that epoch second ``at`` falls in, in time zone ``tz``."""
    today = local_day(at, tz)
    if rule == "month":
        count = calendar.monthrange(today.year, today.month)[1]
        first = today.replace(day=1)
        period_id, limit = month_of(today), count
    elif rule == "week":
        year, week, weekday = today.isocalendar()
        count, first = 7, today - timedelta(days=weekday - 1)
        period_id, limit = f"{year:04d}-W{week:02d}", 7
    elif rule == "day":
        count, first = 1, today
        period_id, limit = today.isoformat(), 1
    else:
        raise ValueError(f"unknown cap rule {rule!r}")
    days = tuple(first + timedelta(days=n) for n in range(count))
    return Period(
        rule, period_id, days, _midnight(first, tz), _midnight(days[-1] + timedelta(days=1), tz), limit
    )
