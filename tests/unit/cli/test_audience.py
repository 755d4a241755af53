"""wecomctl audience files: plain lists and CSV columns, forgiving on noise, strict on the column and on
what an id can be."""

from __future__ import annotations

from pathlib import Path

import pytest

from wecomctl.audience import MAX_ID_BYTES, is_id, parse_audience, read_audience
from wecomctl.http import UsageError


def test_one_id_per_line_ignores_blanks_comments_spaces_and_duplicates() -> None:
    text = "# exported 2025-05-01\nwm001\n\n  wm002  \nwm001\n# the VIPs\nwm003\r\nwm002\n"
    assert parse_audience(text).ids == ["wm001", "wm002", "wm003"]


def test_a_header_line_equal_to_the_column_is_skipped() -> None:
    assert parse_audience("external_userid\nwm001\nwm002\n").ids == ["wm001", "wm002"]
    assert parse_audience("chat_id\nwr1\n", column="chat_id").ids == ["wr1"]


def test_bom_is_ignored() -> None:
    assert parse_audience("\ufeffwm001\nwm002").ids == ["wm001", "wm002"]


def test_csv_reads_the_named_column_in_file_order() -> None:
    text = 'name,external_userid,city\n"Li, Wei",wm010,上海\n王芳,wm011,北京\n张伟,wm010,深圳\n,,\n'
    assert parse_audience(text).ids == ["wm010", "wm011"]


def test_csv_column_can_be_chosen_and_delimiters_vary() -> None:
    assert parse_audience("id;name\nwm1;a\nwm2;b", column="id").ids == ["wm1", "wm2"]
    assert parse_audience("id\tname\nwm1\ta\n", column="id").ids == ["wm1"]


def test_csv_without_the_column_is_an_error_that_lists_the_columns() -> None:
    with pytest.raises(UsageError, match=r"no column 'external_userid' \(columns: id, name\)"):
        parse_audience("id,name\nwm1,a\n")


def test_short_csv_rows_are_skipped_not_misread() -> None:
    assert parse_audience("name,external_userid\nonly-a-name\nb,wm2\n").ids == ["wm2"]


def test_read_audience_from_a_utf8_bom_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "audience.csv"
    path.write_bytes("external_userid,name\r\nwm1,甲\r\nwm2,乙\r\n".encode("utf-8-sig"))
    assert read_audience(str(path)).ids == ["wm1", "wm2"]


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
    assert read_audience("-").ids == ["wm1", "wm2"]


@pytest.mark.parametrize("header", ["customer_id", "ID", "客户ID", "external userid", "User-Id"])
def test_a_first_line_that_is_a_column_title_is_a_header_not_a_customer(header: str) -> None:
    audience = parse_audience(f"{header}\nwm001\nwm002\n")
    assert (audience.ids, audience.header) == (["wm001", "wm002"], header)


def test_a_first_line_that_is_an_id_is_read_and_only_one_line_is_a_header() -> None:
    assert parse_audience("wm001\nwm002\n").header is None
    with pytest.raises(UsageError, match="line 3: 'customer id'"):
        parse_audience("external_userid\nwm001\ncustomer id\n")


@pytest.mark.parametrize(
    ("text", "line", "shown"),
    [
        ("wm001\nwm 002\n", 2, "'wm 002'"),
        ("# list\n\nwm001\nwm#2\n", 4, "'wm#2'"),
        ("wm001\nwm\u0000x\n", 2, "'wm\\x00x'"),
        ("wm001\n" + "w" * 129 + "\n", 2, "'" + "w" * 40 + "…'"),
        ("name,external_userid\n甲,wm1\n\n乙,wm 2\n", 4, "'wm 2'"),
    ],
)
def test_a_malformed_id_is_refused_naming_its_line(text: str, line: int, shown: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_audience(text)
    assert str(refused.value).startswith(f"line {line}: {shown} is not an id")


def test_the_id_rule_is_the_stacks() -> None:
    from wecom_bundle.callback.fields import ID_FIELDS
    from wecom_bundle.campaigns.validation import MAX_ID_BYTES as LAYER_MAX_ID_BYTES

    assert MAX_ID_BYTES == LAYER_MAX_ID_BYTES == ID_FIELDS["ExternalUserID"]
    assert is_id("wmHh4aBgAAn2OCsH2JWLKhZ006jfawcQ") and is_id("w" * 128) and is_id("客户1")
    assert not any(is_id(v) for v in ("", "a b", "a\tb", "a#b", "w" * 129, "客" * 43))


def test_the_summary_says_how_many_ids_were_read_and_what_was_left_out(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("customer_id\nwm1\nwm2\nwm1\nwm1\n", encoding="utf-8")
    audience = read_audience(str(path))
    assert (
        audience.summary(str(path))
        == f"read 2 ids from {path} (header 'customer_id' skipped, 2 repeats dropped)"
    )
    assert parse_audience("wm1\n").summary("-") == "read 1 id from -"


def test_a_malformed_id_in_a_file_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("wm1\nwm 2\n", encoding="utf-8")
    with pytest.raises(UsageError, match=rf"audience file {path}: line 2: 'wm 2' is not an id"):
        read_audience(str(path))
