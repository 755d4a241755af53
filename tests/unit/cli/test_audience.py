"""wecomctl audience files: plain lists and CSV columns, forgiving on noise, strict on the column."""

from __future__ import annotations

from pathlib import Path

import pytest

from wecomctl.audience import parse_audience, read_audience
from wecomctl.http import UsageError


def test_one_id_per_line_ignores_blanks_comments_spaces_and_duplicates() -> None:
    text = "# exported 2025-05-01\nwm001\n\n  wm002  \nwm001\n# the VIPs\nwm003\r\nwm002\n"
    assert parse_audience(text) == ["wm001", "wm002", "wm003"]


def test_a_header_line_equal_to_the_column_is_skipped() -> None:
    assert parse_audience("external_userid\nwm001\nwm002\n") == ["wm001", "wm002"]
    assert parse_audience("chat_id\nwr1\n", column="chat_id") == ["wr1"]


def test_bom_is_ignored() -> None:
    assert parse_audience("\ufeffwm001\nwm002") == ["wm001", "wm002"]


def test_csv_reads_the_named_column_in_file_order() -> None:
    text = 'name,external_userid,city\n"Li, Wei",wm010,上海\n王芳,wm011,北京\n张伟,wm010,深圳\n,,\n'
    assert parse_audience(text) == ["wm010", "wm011"]


def test_csv_column_can_be_chosen_and_delimiters_vary() -> None:
    assert parse_audience("id;name\nwm1;a\nwm2;b", column="id") == ["wm1", "wm2"]
    assert parse_audience("id\tname\nwm1\ta\n", column="id") == ["wm1"]


def test_csv_without_the_column_is_an_error_that_lists_the_columns() -> None:
    with pytest.raises(UsageError, match=r"no column 'external_userid' \(columns: id, name\)"):
        parse_audience("id,name\nwm1,a\n")


def test_short_csv_rows_are_skipped_not_misread() -> None:
    assert parse_audience("name,external_userid\nonly-a-name\nb,wm2\n") == ["wm2"]


def test_read_audience_from_a_utf8_bom_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "audience.csv"
    path.write_bytes("external_userid,name\r\nwm1,甲\r\nwm2,乙\r\n".encode("utf-8-sig"))
    assert read_audience(str(path)) == ["wm1", "wm2"]


def test_read_audience_errors_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read audience file"):
        read_audience(str(tmp_path / "missing.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n\n")
    with pytest.raises(UsageError, match="has no ids"):
        read_audience(str(empty))
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("external_userid\n客户\n".encode("gbk"))
    with pytest.raises(UsageError, match="not UTF-8"):
        read_audience(str(gbk))


def test_read_audience_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"wm1\nwm2\nwm1\n")))
    assert read_audience("-") == ["wm1", "wm2"]
