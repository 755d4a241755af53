"""When a msgid is synced next: often while fresh, rarely when old, never once final.

Why age-based: members confirm most mass sends within hours; a week-old task rarely changes and a month-old
one practically never. Pulling every msgid every 15 minutes would spend WeCom's rate limit on tasks that
cannot change. Defaults (each tunable by environment):

- first ``SYNC_FRESH_HOURS`` (24) after the task was created: at every scheduled run;
- then hourly until day ``SYNC_HOURLY_UNTIL_DAYS`` (7); then daily until day ``SYNC_DAILY_UNTIL_DAYS`` (30);
- then never again. A reminder makes the msgid due at once (``result_sync.repo.mark_msgid_sync_due``).
"""

from __future__ import annotations

from dataclasses import dataclass

from wecom_bundle import config

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True)
class Cadence:
    fresh_s: int
    hourly_until_s: int
    daily_until_s: int

    @classmethod
    def from_env(cls) -> Cadence:
        return cls(
            fresh_s=config.env_int("SYNC_FRESH_HOURS", 24) * HOUR,
            hourly_until_s=config.env_int("SYNC_HOURLY_UNTIL_DAYS", 7) * DAY,
            daily_until_s=config.env_int("SYNC_DAILY_UNTIL_DAYS", 30) * DAY,
        )

    def next_sync_at(self, task_created_at: int, now: int) -> int | None:
        """The next sync time for a task of this age, or None when it is too old to sync again.

        "Every run" is ``now + 1``: due at whichever scheduled run comes next, whatever the schedule is.
        """
        age = now - task_created_at
        if age < self.fresh_s:
            return now + 1
        if age < self.hourly_until_s:
            return now + HOUR
        if age < self.daily_until_s:
            return now + DAY
        return None
