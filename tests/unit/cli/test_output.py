"""wecomctl tables: aligned in terminal cells (CJK is two wide), long cells cut, numbers right-aligned."""

from __future__ import annotations

from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

import pytest

from wecomctl.http import UsageError
from wecomctl.output import (
    Column,
    cell_width,
    format_time,
    key_values,
    one_line,
    table,
    time_option,
    truncate,
)


def test_columns_are_aligned_and_numbers_right_aligned() -> None:
    rows = [{"id": "default", "priority": 0}, {"id": "expo", "priority": 100}]
    out = table(rows, [Column("RULE_ID", "id"), Column("PRIORITY", "priority", right=True)])
    assert out.splitlines() == [
        "RULE_ID  PRIORITY",
        "default         0",
        "expo          100",
    ]


def test_wide_characters_count_two_cells() -> None:
    assert cell_width("欢迎") == 4
    assert cell_width("e\u0301") == 1  # a combining accent takes no cell
    out = table(
        [{"t": "你好", "n": 1}, {"t": "hello", "n": 22}], [Column("TEXT", "t"), Column("N", "n", True)]
    )
    lines = out.splitlines()
    assert lines == ["TEXT    N", "你好    1", "hello  22"]
    assert {cell_width(line) for line in lines} == {9}


def test_missing_values_lists_and_whitespace_become_one_line() -> None:
    out = table(
        [{"a": None, "b": ["x", "y"], "c": "two\nlines\tand  tabs"}],
        [Column("A", "a"), Column("B", "b"), Column("C", "c")],
    )
    assert out.splitlines()[1] == "-  x, y  two lines and tabs"
    assert one_line({"k": "值"}) == '{"k": "值"}'
    assert one_line(True) == "yes"


def test_long_cells_are_cut_with_an_ellipsis_in_cells_not_characters() -> None:
    assert truncate("abcdefghij", 5) == "abcd…"
    assert truncate("欢迎光临本店", 7) == "欢迎光…"
    assert cell_width(truncate("欢迎光临本店", 7)) <= 7
    assert truncate("short", 5) == "short"
    out = table([{"t": "x" * 100}], [Column("T", "t", max_width=10)])
    assert out.splitlines()[1] == "x" * 9 + "…"


def test_empty_table_is_just_the_header() -> None:
    assert table([], [Column("A", "a"), Column("BB", "b")]) == "A  BB"


def test_key_values_align_values() -> None:
    assert key_values([("status", "sent"), ("msgids", 3), ("name", None)]).splitlines() == [
        "status: sent",
        "msgids: 3",
        "name:   -",
    ]


def shanghai() -> tzinfo:
    return ZoneInfo("Asia/Shanghai")


SHANGHAI = shanghai


def test_format_time_takes_seconds_milliseconds_and_iso_and_prints_the_zone_given() -> None:
    seconds = 1_796_681_040  # 2026-12-07 22:04 UTC
    assert format_time(seconds, SHANGHAI) == "2026-12-08 06:04 +08:00"
    assert format_time(seconds * 1000, SHANGHAI) == "2026-12-08 06:04 +08:00"
    assert format_time(str(seconds), SHANGHAI) == "2026-12-08 06:04 +08:00"
    assert format_time("2026-12-07T22:04:00Z", SHANGHAI) == "2026-12-08 06:04 +08:00"
    assert format_time(seconds, lambda: UTC) == "2026-12-07 22:04 +00:00"
    assert format_time(seconds, lambda: ZoneInfo("America/St_Johns")) == "2026-12-07 18:34 -03:30"
    assert format_time(None, SHANGHAI) == "-"
    assert format_time("not a time", SHANGHAI) == "not a time"
    assert format_time(10**30, SHANGHAI) == str(10**30)  # out of range: shown as given, never a traceback


def test_time_options_pass_on_unchanged_so_the_api_reads_a_naive_time_in_the_business_zone() -> None:
    """The CLI must not attach the host's offset: the stack reads a bare time in WELCOME_TIMEZONE."""
    for text in ("1700000000", "2030-01-02T03:04:05+08:00", "2030-01-02T03:04:05Z", "2030-01-02T09:00"):
        assert time_option(text, "--send-at") == text
    with pytest.raises(UsageError, match="--since 'last week' is neither ISO 8601"):
        time_option("last week", "--since")
