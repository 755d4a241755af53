"""Fire the template's scheduled functions locally, with the events EventBridge would send.

Why a thread and not "just call it by hand": reminders and result sync only show their real behaviour (and
their bugs) when they run on their own while the rest of the stack is being used. LOCAL_SCHEDULE_SCALE
speeds the clock up for demos and tests.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from local.cloudformation import LOCAL_ACCOUNT_ID, LOCAL_REGION
from local.template import ScheduleSpec

log = logging.getLogger(__name__)

Invoke = Callable[[str, Any], Any]

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


# ---------------------------------------------------------------- expressions


def parse_rate(expression: str) -> float:
    """Seconds between runs of a `rate(N unit)` expression."""
    match = _RATE.match(expression.strip())
    if not match:
        raise ValueError(f"not a rate expression: {expression!r}")
    value = int(match.group(1))
    if value <= 0:
        raise ValueError(f"rate must be positive: {expression!r}")
    return float(value * _UNIT_SECONDS[match.group(2).lower().rstrip("s")])


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_WEEKDAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}


def _parse_field(
    text: str, low: int, high: int, names: dict[str, int] | None = None
) -> frozenset[int] | None:
    """One cron field as the set of allowed values; None means "any" (`*` or `?`)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item.upper(), low, high, names or {}))
    return frozenset(values)


def _parse_item(item: str, low: int, high: int, names: dict[str, int]) -> range:
    numeric = re.sub(r"[A-Z]{3}", lambda m: str(names.get(m.group(0), m.group(0))), item)
    if any(ch in numeric for ch in "LW#"):
        raise ValueError(f"cron feature {item!r} is not supported locally")
    base, _, step_text = item.partition("/")
    step = int(step_text) if step_text else 1
    if base in ("*", "?"):
        start, end = low, high
    elif "-" in base:
        first, last = base.split("-", 1)
        start, end = _value(first, names), _value(last, names)
    else:
        start = _value(base, names)
        end = high if step_text else start
    if not (low <= start <= high and low <= end <= high) or step <= 0:
        raise ValueError(f"cron value {item!r} out of range {low}-{high}")
    return range(start, end + 1, step)


def _value(text: str, names: dict[str, int]) -> int:
    return names[text] if text in names else int(text)


@dataclass(frozen=True)
class CronExpression:
    """An EventBridge `cron(min hour day-of-month month day-of-week year)` expression (no L, W or #)."""

    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None  # 1 = Sunday … 7 = Saturday, as in EventBridge
    years: frozenset[int] | None

    @classmethod
    def parse(cls, expression: str) -> CronExpression:
        match = re.match(r"^cron\((.*)\)$", expression.strip(), re.IGNORECASE)
        fields = match.group(1).split() if match else []
        if len(fields) != 6:
            raise ValueError(f"not a six-field cron expression: {expression!r}")
        return cls(
            minutes=_parse_field(fields[0], 0, 59),
            hours=_parse_field(fields[1], 0, 23),
            days=_parse_field(fields[2], 1, 31),
            months=_parse_field(fields[3], 1, 12, _MONTHS),
            weekdays=_parse_field(fields[4], 1, 7, _WEEKDAYS),
            years=_parse_field(fields[5], 1970, 2199),
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after `moment` (same time zone as `moment`)."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if self._day_matches(day):
                for hour in _sorted(self.hours, 24):
                    for minute in _sorted(self.minutes, 60):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        raise ValueError("cron expression never fires in the next five years")

    def _day_matches(self, day: datetime) -> bool:
        weekday = (day.weekday() + 1) % 7 + 1
        return (
            (self.years is None or day.year in self.years)
            and (self.months is None or day.month in self.months)
            and (self.days is None or day.day in self.days)
            and (self.weekdays is None or weekday in self.weekdays)
        )


def _sorted(values: frozenset[int] | None, size: int) -> list[int]:
    return sorted(values) if values is not None else list(range(size))


def seconds_until_next(schedule: ScheduleSpec, now: datetime | None = None) -> float:
    """Seconds from `now` to the schedule's next run (a rate's first run is one period away)."""
    expression = schedule.expression
    if expression.lower().startswith("rate("):
        return parse_rate(expression)
    if expression.lower().startswith("cron("):
        zone = ZoneInfo(schedule.timezone) if schedule.timezone else UTC
        current = (now or datetime.now(UTC)).astimezone(zone)
        return (CronExpression.parse(expression).next_after(current) - current).total_seconds()
    raise ValueError(f"schedule expression {expression!r} is not supported locally")


# ---------------------------------------------------------------- the event


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or LOCAL_REGION


def scheduled_event(
    function_id: str, schedule: ScheduleSpec | None = None, now: datetime | None = None
) -> Any:
    """The event the schedule delivers: its `Input` if set, else EventBridge's own scheduled-event envelope.

    EventBridge Scheduler (ScheduleV2) sends `detail` as the *string* "{}"; an EventBridge rule (Schedule)
    sends an object. Handlers must cope with the one they are deployed with, so both are reproduced.
    """
    if schedule is not None and schedule.input:
        return json.loads(schedule.input)
    region = _region()
    name = f"{function_id}-{schedule.event_name}" if schedule else function_id
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rule = schedule is not None and schedule.kind == "Schedule"
    resource = (
        f"arn:aws:events:{region}:{LOCAL_ACCOUNT_ID}:rule/{name}"
        if rule
        else f"arn:aws:scheduler:{region}:{LOCAL_ACCOUNT_ID}:schedule/default/{name}"
    )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events" if rule else "aws.scheduler",
        "account": LOCAL_ACCOUNT_ID,
        "time": stamp,
        "region": region,
        "resources": [resource],
        "detail": {} if rule else "{}",
    }


# ---------------------------------------------------------------- the thread


def schedule_scale(environ: Any = None) -> float:
    """LOCAL_SCHEDULE_SCALE (default 1): every period is divided by it."""
    raw = (os.environ if environ is None else environ).get("LOCAL_SCHEDULE_SCALE") or "1"
    try:
        scale = float(raw)
    except ValueError as exc:
        raise ValueError("LOCAL_SCHEDULE_SCALE must be a number") from exc
    if scale <= 0:
        raise ValueError("LOCAL_SCHEDULE_SCALE must be positive")
    return scale


class LocalScheduler:
    """One thread that fires each enabled schedule; every run happens on its own thread.

    A run that is still busy when its next time comes is skipped (logged), so a slow sync cannot pile up.
    Handler errors are logged and never stop the scheduler.
    """

    def __init__(self, schedules: list[ScheduleSpec], invoke: Invoke, scale: float = 1.0) -> None:
        self.schedules = [s for s in schedules if s.enabled and self._supported(s)]
        self.invoke = invoke
        self.scale = scale
        self.fired: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: dict[int, threading.Thread] = {}

    @staticmethod
    def _supported(schedule: ScheduleSpec) -> bool:
        try:
            seconds_until_next(schedule)
        except (ValueError, KeyError) as exc:
            log.warning("%s.%s not scheduled locally: %s", schedule.function_id, schedule.event_name, exc)
            return False
        return True

    @property
    def running(self) -> bool:
        """Started and not stopped (the thread itself ends at once when there is nothing to schedule)."""
        return self._thread is not None and not self._stop.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="local-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        for run in list(self._running.values()):
            run.join(max(0.0, deadline - time.monotonic()))
            if run.is_alive():
                log.warning("%s is still running at shutdown; not waiting for it", run.name)

    def _loop(self) -> None:
        due = {index: self._next_due(s, time.monotonic()) for index, s in enumerate(self.schedules)}
        while due:
            index = min(due, key=due.__getitem__)
            if self._stop.wait(max(0.0, due[index] - time.monotonic())):
                return
            self._fire(index)
            due[index] = self._next_due(self.schedules[index], due[index])

    def _next_due(self, schedule: ScheduleSpec, base: float) -> float:
        if schedule.expression.lower().startswith("rate("):
            return base + parse_rate(schedule.expression) / self.scale
        return time.monotonic() + seconds_until_next(schedule) / self.scale

    def _fire(self, index: int) -> None:
        schedule = self.schedules[index]
        previous = self._running.get(index)
        if previous is not None and previous.is_alive():
            log.warning("%s: previous scheduled run still busy; this run is skipped", schedule.function_id)
            return
        run = threading.Thread(
            target=self._run_once, args=(schedule,), name=f"schedule-{schedule.function_id}", daemon=True
        )
        self._running[index] = run
        run.start()

    def _run_once(self, schedule: ScheduleSpec) -> None:
        self.fired[schedule.function_id] = self.fired.get(schedule.function_id, 0) + 1
        started = time.monotonic()
        try:
            self.invoke(schedule.function_id, scheduled_event(schedule.function_id, schedule))
        except Exception:
            log.exception("scheduled run of %s failed", schedule.function_id)
            return
        log.info(
            "scheduled run of %s done (%.0f ms)", schedule.function_id, (time.monotonic() - started) * 1000
        )
