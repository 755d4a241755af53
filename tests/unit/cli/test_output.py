"""wecomctl tables: aligned in terminal cells (CJK is two wide), long cells cut, numbers right-aligned."""

from __future__ import annotations

from datetime import datetime

import pytest

from wecomctl.http import UsageError
from wecomctl.output import Column, cell_width, format_time, key_values, local_iso, one_line, table, truncate


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


def test_format_time_takes_seconds_milliseconds_and_iso() -> None:
    seconds = 1_700_000_000
    local = datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
    assert format_time(seconds) == local
    assert format_time(seconds * 1000) == local
    assert format_time(str(seconds)) == local
    assert format_time("2023-11-14T22:13:20Z") == local
    assert format_time(None) == "-"
    assert format_time("not a time") == "not a time"


def test_time_options_get_an_explicit_offset_naive_meaning_local() -> None:
    assert local_iso("1700000000", "--since") == "1700000000"
    assert local_iso("2030-01-02T03:04:05+08:00", "--send-at") == "2030-01-02T03:04:05+08:00"
    assert local_iso("2030-01-02T03:04:05Z", "--send-at") == "2030-01-02T03:04:05+00:00"
    naive = datetime(2030, 1, 2, 9, 0)
    assert local_iso("2030-01-02T09:00", "--send-at") == naive.astimezone().isoformat(timespec="seconds")
    with pytest.raises(UsageError, match="--since 'last week' is neither ISO 8601"):
        local_iso("last week", "--since")
