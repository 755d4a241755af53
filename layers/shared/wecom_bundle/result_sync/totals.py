"""Aggregates of synced results: per member, per msgid (chunk) and per campaign.

Why recounts and not increments: every number here is computed from the stored rows or from the smaller
aggregates below it, so a pass that is repeated, resumed or raced cannot count anything twice, and the
totals served by the admin API always equal a recount of the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wecom_bundle.wecom.groupmsg import RESULT_STATUS_NAMES as STATUS_NAMES

if TYPE_CHECKING:
    from wecom_bundle.campaigns.records import CampaignChunk

NAME_STATUS = {name: code for code, name in STATUS_NAMES.items()}
MEMBER_SENT = 2


def zero_totals() -> dict[str, dict[str, int]]:
    return {
        "members": {"sent": 0, "unsent": 0},
        "customers": {name: 0 for name in STATUS_NAMES.values()},
    }


@dataclass(frozen=True)
class MemberCounts:
    """One member's rows by status, and the span of their send times."""

    by_status: dict[str, int]
    first_send_time: int | None
    last_send_time: int | None

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def unsent(self) -> int:
        return self.by_status["unsent"]

    def as_dict(self) -> dict[str, int]:
        return dict(self.by_status)


def member_counts(rows: Iterable[dict[str, Any]]) -> MemberCounts:
    """Count one member's result rows (status 0..3) and find their first and last send_time."""
    counts = {name: 0 for name in STATUS_NAMES.values()}
    times: list[int] = []
    for row in rows:
        counts[STATUS_NAMES.get(int(row.get("status") or 0), "unsent")] += 1
        if row.get("send_time"):
            times.append(int(row["send_time"]))
    return MemberCounts(counts, min(times, default=None), max(times, default=None))


def chunk_totals(members: list[dict[str, Any]]) -> dict[str, Any]:
    """A msgid's aggregates from its member items (as stored on the campaign's chunk item)."""
    totals = zero_totals()
    first: list[int] = []
    last: list[int] = []
    for member in members:
        totals["members"]["sent" if member.get("status") == MEMBER_SENT else "unsent"] += 1
        for name, count in (member.get("results") or {}).items():
            totals["customers"][name] = totals["customers"].get(name, 0) + int(count)
        if member.get("first_send_time"):
            first.append(int(member["first_send_time"]))
        if member.get("last_send_time"):
            last.append(int(member["last_send_time"]))
    complete = bool(members) and all(
        m.get("status") == MEMBER_SENT and m.get("results_final") for m in members
    )
    return {
        "totals": totals,
        "members_unsent": totals["members"]["unsent"],
        "first_send_time": min(first, default=None),
        "last_send_time": max(last, default=None),
        "sync_complete": complete,
    }


def campaign_totals(chunks: list[CampaignChunk]) -> tuple[dict[str, Any], bool]:
    """The campaign's totals (sum of its msgids) and whether it is complete: every chunk has its task and
    every task's members have all sent with every row final. Refused chunks (no task) do not count."""
    totals = zero_totals()
    tasks = [c for c in chunks if c.get("msgid")]
    for chunk in tasks:
        for group, counts in (chunk.get("totals") or {}).items():
            for name, count in counts.items():
                totals[group][name] = totals[group].get(name, 0) + int(count)
    unsettled = any(c.get("state") in ("pending", "calling") for c in chunks)
    complete = bool(tasks) and not unsettled and all(c.get("sync_complete") for c in tasks)
    return totals, complete


def sent_rate(counts: dict[str, int]) -> float | None:
    """Share of a member's customers that received the message (None when the member has none)."""
    total = sum(counts.values())
    return round(counts.get("sent", 0) / total, 4) if total else None
