"""WeCom's per-customer mass-send cap, read before sending: how many a customer received in the current
period, whether the cap already refused one, and how many are still pending.

Why from counter items and not from result rows: an audience of 10 000 customers is checked with
BatchGetItem of one or two small items per customer (100 keys a call, unprocessed keys retried with back-off),
never a Scan and never a loop over campaigns (``repo``). The counters are sets the result sync keeps
(``tally``), so what they say is exactly what was synced: a message a member has not yet confirmed, or that
was sent but not yet synced, is not counted (``pending`` says how many are waiting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from wecom_bundle.campaigns.status import FINISHED_SYNC_STATES, SyncState
from wecom_bundle.customers.periods import Period, month_of, period_of
from wecom_bundle.customers.tally import pending_msgid, utc_month
from wecom_bundle.dynamo.keys import CUSTOMER_PENDING_ATTRIBUTE, customer_day_attribute

if TYPE_CHECKING:
    from wecom_bundle.customers.repo import CustomerRepo

DAY_S = 86_400


@dataclass(frozen=True)
class Usage:
    """One customer in one period: rows counted as received, and whether the cap refused one."""

    received: int = 0
    limit_reached: bool = False

    def capped(self, limit: int) -> bool:
        return self.received >= limit or self.limit_reached


@dataclass(frozen=True)
class QuotaReader:
    """The cap as configured (``rule``, periods in time zone ``tz``) on the customers' repository.

    ``pending_window_s``: how far back a task may have been created and still be synced (the result sync's
    ``SYNC_DAILY_UNTIL_DAYS``); only the pending items of those months are read. ``deadline``
    (``time.monotonic``): reads stop there with ``dynamo.table.DeadlinePassed`` (``AudienceCap.within``)."""

    repo: CustomerRepo
    rule: str
    tz: str
    pending_window_s: int = 30 * DAY_S
    deadline: float | None = None

    def period(self, now: int) -> Period:
        return period_of(self.rule, now, self.tz)

    def usage(self, external_userids: Sequence[str], now: int) -> dict[str, Usage]:
        """Each customer's usage of the period ``now`` falls in (customers never counted are absent)."""
        period = self.period(now)
        by_month: dict[str, list[str]] = {}
        for day in period.days:
            iso = day.isoformat()
            by_month.setdefault(month_of(day), []).extend(
                customer_day_attribute(kind, iso) for kind in ("s", "l")
            )
        wanted = [(ext, month) for ext in dict.fromkeys(external_userids) for month in by_month]
        attributes = sorted({a for names in by_month.values() for a in names})
        items = self.repo.quota_items(wanted, attributes, self.deadline)
        usage: dict[str, Usage] = {}
        for (ext, month), item in items.items():
            days = by_month.get(month, [])
            received = sum(len(item.get(a) or ()) for a in days if a.startswith("s"))
            refused = any(item.get(a) for a in days if a.startswith("l"))
            before = usage.get(ext, Usage())
            usage[ext] = Usage(before.received + received, before.limit_reached or refused)
        return usage

    def pending(self, external_userids: Sequence[str], now: int) -> dict[str, int]:
        """Unsent rows of tasks still running, per customer (customers with none are absent)."""
        months = _utc_months(now - self.pending_window_s, now)
        wanted = [(ext, m) for ext in dict.fromkeys(external_userids) for m in months]
        items = self.repo.pending_items(wanted, self.deadline)
        entries = {
            (ext, entry)
            for (ext, _), item in items.items()
            for entry in item.get(CUSTOMER_PENDING_ATTRIBUTE) or ()
        }
        msgids = [pending_msgid(entry) for _, entry in entries]
        states = self.repo.msgid_sync_states(msgids, self.deadline) if entries else {}
        counts: dict[str, int] = {}
        for ext, entry in entries:
            if states.get(pending_msgid(entry), SyncState.DONE) not in FINISHED_SYNC_STATES:
                counts[ext] = counts.get(ext, 0) + 1
        return counts

    def quota(self, external_userid: str, now: int) -> dict[str, Any]:
        """The ``quota`` of ``GET /admin/customers/{id}``: a customer never seen has a full quota."""
        period = self.period(now)
        usage = self.usage([external_userid], now).get(external_userid, Usage())
        return {
            "rule": self.rule,
            "limit": period.limit,
            "period": period.id,
            "received": usage.received,
            "pending": self.pending([external_userid], now).get(external_userid, 0),
            "remaining": max(0, period.limit - usage.received),
            "capped": usage.capped(period.limit),
        }


def capped_among(reader: QuotaReader, external_userids: Sequence[str], now: int) -> list[str]:
    """The ids (in input order, deduplicated) that are capped in the current period at epoch second `now`."""
    limit = reader.period(now).limit
    usage = reader.usage(external_userids, now)
    return [ext for ext in dict.fromkeys(external_userids) if ext in usage and usage[ext].capped(limit)]


def _utc_months(start: int, end: int) -> list[str]:
    """The UTC months from epoch second ``start`` to ``end``, oldest first."""
    months = [utc_month(start)]
    moment = datetime.fromtimestamp(start, UTC).replace(day=1, hour=0, minute=0, second=0)
    while months[-1] != utc_month(end):
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        moment = moment.replace(year=year, month=month)
        months.append(moment.strftime("%Y-%m"))
    return months


@dataclass(frozen=True)
class AudienceCap:
    """The reader as the campaign services ask it (``campaigns.cap.CapCheck``, matched by shape).

    Why an adapter and not the reader itself: campaigns ask for counts over an audience (how many are capped,
    how many wait on a member), while the reader answers per customer; campaigns never import this package.
    """

    reader: QuotaReader
    rule: str

    @classmethod
    def of(cls, reader: QuotaReader) -> AudienceCap:
        return cls(reader=reader, rule=reader.rule)

    def within(self, deadline: float) -> AudienceCap:
        """The same cap whose reads stop at ``deadline`` (``time.monotonic``) with ``DeadlinePassed``."""
        return AudienceCap(reader=replace(self.reader, deadline=deadline), rule=self.rule)

    def limit(self, now: int) -> int:
        return self.reader.period(now).limit

    def period(self, now: int) -> str:
        return self.reader.period(now).id

    def capped(self, external_userids: Sequence[str], now: int) -> list[str]:
        return capped_among(self.reader, external_userids, now)

    def pending(self, external_userids: Sequence[str], now: int) -> int:
        """How many of the customers have at least one unsent message of a task still running."""
        return len(self.reader.pending(external_userids, now))
