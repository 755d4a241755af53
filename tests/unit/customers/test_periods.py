"""The cap's periods (month, ISO week, day) in the corp's time zone, and the setting that picks the rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wecom_bundle import config
from wecom_bundle.customers.periods import period_of

TZ = "Asia/Shanghai"


def at(text: str, tz: str = "+08:00") -> int:
    """Epoch seconds of a wall-clock time in ``tz``."""
    return int(datetime.fromisoformat(f"{text}{tz}").timestamp())


@pytest.mark.parametrize(
    ("moment", "period", "limit"),
    [
        ("2026-12-31T23:59:59", "2026-12", 31),
        ("2027-01-01T00:00:00", "2027-01", 31),
        ("2026-11-30T23:59:59", "2026-11", 30),
        ("2027-02-28T12:00:00", "2027-02", 28),
        ("2028-02-29T23:59:59", "2028-02", 29),  # leap February
        ("2028-03-01T00:00:00", "2028-03", 31),
    ],
)
def test_month_is_the_calendar_month_with_its_days_as_limit(moment: str, period: str, limit: int) -> None:
    got = period_of("month", at(moment), TZ)
    assert (got.id, got.limit, len(got.days)) == (period, limit, limit)


def test_month_bounds_are_local_midnights() -> None:
    got = period_of("month", at("2028-02-15T08:00:00"), TZ)
    assert (got.start, got.end) == (at("2028-02-01T00:00:00"), at("2028-03-01T00:00:00"))


@pytest.mark.parametrize(
    ("moment", "period"),
    [
        ("2026-12-28T00:00:00", "2026-W53"),  # Monday
        ("2026-12-31T12:00:00", "2026-W53"),
        ("2027-01-01T12:00:00", "2026-W53"),  # ISO week across the year's end
        ("2027-01-03T23:59:59", "2026-W53"),  # Sunday: still that week
        ("2027-01-04T00:00:00", "2027-W01"),  # Monday: the first week of 2027
    ],
)
def test_iso_week_across_a_year_end(moment: str, period: str) -> None:
    got = period_of("week", at(moment), TZ)
    assert (got.id, got.limit) == (period, 7)


def test_a_week_across_a_month_end_spans_two_months() -> None:
    got = period_of("week", at("2027-01-01T12:00:00"), TZ)
    assert got.months() == ("2026-12", "2027-01")
    assert (got.start, got.end) == (at("2026-12-28T00:00:00"), at("2027-01-04T00:00:00"))
    assert [d.isoformat() for d in got.days][::6] == ["2026-12-28", "2027-01-03"]


def test_day_is_the_local_day_not_the_utc_one() -> None:
    local_midnight = int(datetime(2026, 12, 4, 16, 0, 0, tzinfo=UTC).timestamp())  # 00:00 in Shanghai
    assert period_of("day", local_midnight, TZ).id == "2026-12-05"
    assert period_of("day", local_midnight - 1, TZ).id == "2026-12-04"
    assert period_of("day", local_midnight, "UTC").id == "2026-12-04"
    day = period_of("day", local_midnight, TZ)
    assert (day.limit, day.start, day.end) == (1, local_midnight, local_midnight + 86_400)


def test_the_month_in_the_time_zone_differs_from_utc_at_the_turn() -> None:
    new_year_in_shanghai = at("2027-01-01T00:30:00")
    assert period_of("month", new_year_in_shanghai, TZ).id == "2027-01"
    assert period_of("month", new_year_in_shanghai, "UTC").id == "2026-12"


def test_the_rule_defaults_to_month(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASS_SEND_CUSTOMER_LIMIT", raising=False)
    assert config.customer_limit_rule() == "month"
    monkeypatch.setenv("MASS_SEND_CUSTOMER_LIMIT", "week")
    assert config.customer_limit_rule() == "week"


@pytest.mark.parametrize("bad", ["Month", "monthly", "7", "dayz", "DAY"])
@pytest.mark.usefixtures("aws_env")  # every other setting present: the cap rule is what fails
def test_a_bad_rule_fails_at_load_naming_the_setting(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASS_SEND_CUSTOMER_LIMIT", bad)
    with pytest.raises(config.ConfigError, match="MASS_SEND_CUSTOMER_LIMIT") as refused:
        config.load_settings()
    assert bad not in str(refused.value).replace("MASS_SEND_CUSTOMER_LIMIT", "")
