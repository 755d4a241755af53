"""local.scheduler: schedule expressions, the EventBridge-shaped events, and the firing thread."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from local.cloudformation import LOCAL_ACCOUNT_ID
from local.scheduler import (
    CronExpression,
    LocalScheduler,
    parse_rate,
    schedule_scale,
    scheduled_event,
    seconds_until_next,
)
from local.template import ScheduleSpec


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(30 minutes)", 1800),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("rate( 15 Minutes )", 900),
    ],
)
def test_rates(expression: str, seconds: int) -> None:
    assert parse_rate(expression) == seconds


@pytest.mark.parametrize(
    "expression", ["rate(0 minutes)", "rate(5 weeks)", "rate(minutes)", "cron(* * * * ? *)"]
)
def test_bad_rates(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(expression)


@pytest.mark.parametrize(
    ("expression", "now", "expected"),
    [
        ("cron(0 2 * * ? *)", "2024-05-01T01:59:30", "2024-05-01T02:00:00"),
        ("cron(0 2 * * ? *)", "2024-05-01T02:00:00", "2024-05-02T02:00:00"),
        ("cron(0/15 * * * ? *)", "2024-05-01T10:16:00", "2024-05-01T10:30:00"),
        ("cron(0 9 ? * MON-FRI *)", "2024-05-03T10:00:00", "2024-05-06T09:00:00"),  # Fri -> Mon
        ("cron(0 9 ? * 1 *)", "2024-05-01T00:00:00", "2024-05-05T09:00:00"),  # 1 = Sunday
        ("cron(30 8 1 JAN,JUL ? *)", "2024-02-01T00:00:00", "2024-07-01T08:30:00"),
        ("cron(0 0 29 2 ? 2028)", "2024-01-01T00:00:00", "2028-02-29T00:00:00"),
    ],
)
def test_cron_next_run(expression: str, now: str, expected: str) -> None:
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert CronExpression.parse(expression).next_after(moment) == datetime.fromisoformat(expected).replace(
        tzinfo=UTC
    )


@pytest.mark.parametrize(
    "expression", ["cron(0 2 * *)", "cron(0 2 L * ? *)", "cron(0 25 * * ? *)", "every day"]
)
def test_unsupported_cron(expression: str) -> None:
    with pytest.raises(ValueError):
        CronExpression.parse(expression)


def test_cron_honours_the_schedule_time_zone() -> None:
    schedule = ScheduleSpec("F", "E", "ScheduleV2", "cron(0 9 * * ? *)", timezone="Asia/Shanghai")
    now = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert seconds_until_next(schedule, now) == 3600


def test_scheduler_v2_event_shape() -> None:
    schedule = ScheduleSpec("ReminderFunction", "Every30Minutes", "ScheduleV2", "rate(30 minutes)")
    event = scheduled_event("ReminderFunction", schedule, now=datetime(2024, 5, 1, 12, tzinfo=UTC))
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.scheduler"
    assert event["account"] == LOCAL_ACCOUNT_ID
    assert event["time"] == "2024-05-01T12:00:00Z"
    assert event["detail"] == "{}"  # Scheduler's default payload has the detail as a JSON string
    assert event["resources"] == [
        f"arn:aws:scheduler:{event['region']}:{LOCAL_ACCOUNT_ID}:schedule/default/ReminderFunction-Every30Minutes"
    ]
    assert len(event["id"]) == 36
    assert scheduled_event("ReminderFunction", schedule)["id"] != event["id"]


def test_rule_event_shape_and_input() -> None:
    rule = ScheduleSpec("F", "Hourly", "Schedule", "rate(1 hour)")
    event = scheduled_event("F", rule)
    assert (event["source"], event["detail"]) == ("aws.events", {})
    assert ":rule/F-Hourly" in event["resources"][0]
    with_input = ScheduleSpec("F", "Hourly", "Schedule", "rate(1 hour)", input='{"job": "x"}')
    assert scheduled_event("F", with_input) == {"job": "x"}


@pytest.mark.parametrize(("raw", "scale"), [(None, 1.0), ("", 1.0), ("60", 60.0), ("0.5", 0.5)])
def test_schedule_scale(raw: str | None, scale: float) -> None:
    env = {} if raw is None else {"LOCAL_SCHEDULE_SCALE": raw}
    assert schedule_scale(env) == scale


@pytest.mark.parametrize("raw", ["fast", "0", "-2"])
def test_bad_schedule_scale(raw: str) -> None:
    with pytest.raises(ValueError, match="LOCAL_SCHEDULE_SCALE"):
        schedule_scale({"LOCAL_SCHEDULE_SCALE": raw})


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail = fail
        self.event = threading.Event()

    def __call__(self, function_id: str, event: Any) -> Any:
        self.calls.append((function_id, event))
        if len(self.calls) >= 3:
            self.event.set()
        if self.fail:
            raise RuntimeError("handler failed")
        return {}


def test_scheduler_fires_every_scaled_period_and_survives_errors(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(fail=True)
    schedules = [ScheduleSpec("Tick", "Fast", "ScheduleV2", "rate(1 minute)")]
    scheduler = LocalScheduler(schedules, recorder, scale=1200)  # every 50 ms
    started = time.monotonic()
    scheduler.start()
    assert scheduler.running
    try:
        assert recorder.event.wait(5), "the scheduler stopped firing after an error"
    finally:
        scheduler.stop()
    assert time.monotonic() - started >= 0.1  # first run one period after start, not at once
    assert not scheduler.running
    assert {function_id for function_id, _ in recorder.calls} == {"Tick"}
    assert recorder.calls[0][1]["source"] == "aws.scheduler"
    assert "scheduled run of Tick failed" in caplog.text
    count = len(recorder.calls)
    time.sleep(0.2)
    assert len(recorder.calls) == count  # stopped means stopped


def test_first_run_waits_one_period() -> None:
    recorder = Recorder()
    scheduler = LocalScheduler(
        [ScheduleSpec("Slow", "E", "ScheduleV2", "rate(1 minute)")], recorder, scale=10
    )
    scheduler.start()
    time.sleep(0.3)
    scheduler.stop()
    assert recorder.calls == []


def test_disabled_and_unsupported_schedules_are_not_run(caplog: pytest.LogCaptureFixture) -> None:
    schedules = [
        ScheduleSpec("A", "Off", "ScheduleV2", "rate(1 minute)", enabled=False),
        ScheduleSpec("B", "Once", "ScheduleV2", "at(2030-01-01T00:00:00)"),
        ScheduleSpec("C", "Ok", "ScheduleV2", "cron(0 2 * * ? *)"),
    ]
    scheduler = LocalScheduler(schedules, Recorder())
    assert [s.function_id for s in scheduler.schedules] == ["C"]
    assert "B.Once not scheduled locally" in caplog.text


def test_a_busy_run_is_not_started_twice() -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow(function_id: str, event: Any) -> None:  # noqa: ARG001
        calls.append(function_id)
        release.wait(5)

    scheduler = LocalScheduler([ScheduleSpec("Busy", "E", "ScheduleV2", "rate(1 minute)")], slow, scale=1200)
    scheduler.start()
    started = time.monotonic()
    while not calls and time.monotonic() - started < 5:  # a loaded machine may start the first run late
        time.sleep(0.01)
    time.sleep(0.4)  # eight more periods while the first run is still busy
    while_busy = list(calls)  # once released, the next period may rightly start a new run before stop()
    release.set()
    scheduler.stop()
    assert while_busy == ["Busy"]


def test_nothing_to_schedule_still_counts_as_running() -> None:
    scheduler = LocalScheduler([], Recorder())
    scheduler.start()
    assert scheduler.running
    scheduler.stop()
    assert not scheduler.running
