"""Shared admin input parsing: the cases fuzzing found (non-ASCII digits, infinite numbers) stay 400s."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from wecom_bundle import config
from wecom_bundle.config import ConfigError
from wecom_bundle.validation import ValidationError, page_size, parse_timestamp


# Bad page sizes are the admin query model's: tests/unit/admin/test_entry_shapes.py::test_bad_limits_are_400.
def test_limits() -> None:
    assert (page_size(None), page_size(""), page_size("1"), page_size("100")) == (50, 50, 1, 100)


@pytest.mark.parametrize(
    "value", ["²", "١٢٣", float("inf"), float("-inf"), float("nan"), True, None, [], "yesterday"]
)
def test_bad_timestamps_name_the_field(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_timestamp(value, "since", UTC)
    assert caught.value.field == "since"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1795305600, 1795305600),
        (1795305600.9, 1795305600),
        ("1795305600", 1795305600),
        ("2026-11-21T00:00:00Z", 1795219200),
        ("2026-11-21T08:00:00+08:00", 1795219200),
        ("2026-11-21T08:00:00", 1795219200),
    ],
)
def test_timestamps(value: object, expected: int) -> None:
    """A time without an offset is read in the zone given (the business zone), one with an offset as is."""
    assert parse_timestamp(value, "since", ZoneInfo("Asia/Shanghai")) == expected


def test_a_naive_time_is_read_in_the_zone_given_not_in_utc() -> None:
    naive = "2026-12-08T06:04"
    assert parse_timestamp(naive, "send_at", UTC) - parse_timestamp(
        naive, "send_at", ZoneInfo("Asia/Shanghai")
    ) == (8 * 3600)


def test_business_zone_is_welcome_timezone_and_a_bad_one_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WELCOME_TIMEZONE", raising=False)
    assert config.business_zone() == ZoneInfo("Asia/Shanghai")
    monkeypatch.setenv("WELCOME_TIMEZONE", "Europe/Paris")
    assert config.business_zone() == ZoneInfo("Europe/Paris")
    monkeypatch.setenv("WELCOME_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="WELCOME_TIMEZONE"):
        config.business_zone()
