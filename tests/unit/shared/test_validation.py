"""Shared admin input parsing: the cases fuzzing found (non-ASCII digits, infinite numbers) stay 400s."""

from __future__ import annotations

import pytest

from wecom_bundle.validation import ValidationError, page_size, parse_timestamp


# Bad page sizes are the admin query model's: tests/unit/admin/test_entry_shapes.py::test_bad_limits_are_400.
def test_limits() -> None:
    assert (page_size(None), page_size(""), page_size("1"), page_size("100")) == (50, 50, 1, 100)


@pytest.mark.parametrize(
    "value", ["²", "١٢٣", float("inf"), float("-inf"), float("nan"), True, None, [], "yesterday"]
)
def test_bad_timestamps_name_the_field(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_timestamp(value, "since")
    assert caught.value.field == "since"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1795305600, 1795305600),
        (1795305600.9, 1795305600),
        ("1795305600", 1795305600),
        ("2026-11-21T00:00:00Z", 1795219200),
        ("2026-11-21T08:00:00+08:00", 1795219200),
        ("2026-11-21T00:00:00", 1795219200),
    ],
)
def test_timestamps(value: object, expected: int) -> None:
    assert parse_timestamp(value, "since") == expected
