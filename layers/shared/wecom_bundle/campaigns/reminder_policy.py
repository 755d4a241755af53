"""When a campaign's members get reminded: the per-campaign policy and WeCom's 3-per-24 h cap.

Pure functions (no I/O) so the timing rules are testable without DynamoDB or WeCom. The cap itself is
enforced by the DynamoDB ledger in ``reminders`` (three slots per msgid); this module only decides what a
free slot is and when the next one frees up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

CAP_PER_WINDOW = 3  # remind_groupmsg_send: at most 3 per msgid in 24 h (WeCom「提醒成员群发」)
WINDOW_MS = 24 * 3600 * 1000
MAX_MINUTES = 30 * 24 * 60
MAX_HOURS = 30 * 24


@dataclass(frozen=True)
class ReminderPolicy:
    """Defaults from the issue: first 2 h after the tasks exist, then every 6 h, for 3 days."""

    first_after_minutes: int = 120
    every_minutes: int = 360
    stop_after_hours: int = 72
    enabled: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any] | None) -> ReminderPolicy:
        return cls(**(doc or {}))

    def first_at(self, sent_at: int) -> int:
        return sent_at + self.first_after_minutes * 60

    def stop_at(self, sent_at: int) -> int:
        return sent_at + self.stop_after_hours * 3600

    def first_turn(self, sent_at: int) -> int | None:
        """When the scheduled job should first look at the campaign; None when it never should."""
        first = self.first_at(sent_at)
        return first if self.enabled and first <= self.stop_at(sent_at) else None

    def next_turn(self, sent_at: int, now: int) -> int | None:
        """The turn after one taken at ``now``; None once it would fall past ``stop_after``."""
        following = now + self.every_minutes * 60
        return following if self.enabled and following <= self.stop_at(sent_at) else None


def policy_from(doc: dict[str, Any] | None) -> ReminderPolicy:
    """The body's ``reminders`` object (validated by the admin model) with every absent or null field at
    its default."""
    given = {key: value for key, value in (doc or {}).items() if value is not None}
    return ReminderPolicy(**given)


def slot_is_free(slot_at_ms: int | None, now_ms: int) -> bool:
    """A slot may be claimed when empty or when its reminder left the rolling 24 h window."""
    return slot_at_ms is None or slot_at_ms <= now_ms - WINDOW_MS


def next_allowed_at(slot_times_ms: list[int | None], now_ms: int) -> int:
    """Epoch seconds at which the next reminder becomes possible (now, if a slot is free)."""
    if len(slot_times_ms) < CAP_PER_WINDOW or any(slot_is_free(t, now_ms) for t in slot_times_ms):
        return now_ms // 1000
    oldest = min(t for t in slot_times_ms if t is not None)
    return -(-(oldest + WINDOW_MS) // 1000)  # ceiling: never answer a second too early
