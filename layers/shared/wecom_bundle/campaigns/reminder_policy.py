"""When a campaign's members get reminded: the per-campaign policy and WeCom's 3-per-24 h cap.

Pure functions (no I/O) so the timing rules are testable without DynamoDB or WeCom. The cap itself is
enforced by the DynamoDB ledger in ``reminders`` (three slots per msgid); this module only decides what a
free slot is and when the next one frees up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from wecom_bundle.validation import ValidationError, optional_int, reject_unknown, require_object

CAP_PER_WINDOW = 3  # remind_groupmsg_send: at most 3 per msgid in 24 h (seed 003, S2)
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


def parse_policy(value: Any) -> ReminderPolicy:
    """The body's ``reminders`` object; every field is optional and falls back to the default."""
    if value is None:
        return ReminderPolicy()
    doc = require_object(value, "reminders")
    reject_unknown(doc, {"first_after_minutes", "every_minutes", "stop_after_hours", "enabled"}, "reminders.")
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValidationError("reminders.enabled", "must be true or false")
    default = ReminderPolicy()
    first = optional_int(
        doc, "first_after_minutes", "reminders.first_after_minutes", minimum=0, maximum=MAX_MINUTES
    )
    every = optional_int(doc, "every_minutes", "reminders.every_minutes", minimum=1, maximum=MAX_MINUTES)
    stop = optional_int(doc, "stop_after_hours", "reminders.stop_after_hours", minimum=1, maximum=MAX_HOURS)
    return ReminderPolicy(
        first_after_minutes=default.first_after_minutes if first is None else first,
        every_minutes=default.every_minutes if every is None else every,
        stop_after_hours=default.stop_after_hours if stop is None else stop,
        enabled=enabled,
    )


def slot_is_free(slot_at_ms: int | None, now_ms: int) -> bool:
    """A slot may be claimed when empty or when its reminder left the rolling 24 h window."""
    return slot_at_ms is None or slot_at_ms <= now_ms - WINDOW_MS


def next_allowed_at(slot_times_ms: list[int | None], now_ms: int) -> int:
    """Epoch seconds at which the next reminder becomes possible (now, if a slot is free)."""
    if len(slot_times_ms) < CAP_PER_WINDOW or any(slot_is_free(t, now_ms) for t in slot_times_ms):
        return now_ms // 1000
    oldest = min(t for t in slot_times_ms if t is not None)
    return -(-(oldest + WINDOW_MS) // 1000)  # ceiling: never answer a second too early
