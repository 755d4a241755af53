"""What a stored result row counts for its customer, and the counter changes between two versions of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from wecom_bundle.customers import repo, tally
from wecom_bundle.customers.quota import QuotaReader

TZ = "Asia/Shanghai"
NEW_YEAR_UTC_EVE = int(datetime(2026, 12, 31, 16, 30, tzinfo=UTC).timestamp())  # 00:30 Jan 1 in Shanghai
TASK_AT = int(datetime(2026, 12, 20, tzinfo=UTC).timestamp())


def row(status: int, send_time: int | None = None, **extra: Any) -> dict[str, Any]:
    day = tally.counted_day(status, (send_time, TASK_AT), TZ)
    doc = {"msgid": "msgA", "userid": "u1", "external_userid": "wm1", "status": status, "task_at": TASK_AT}
    return {
        **doc,
        **({"send_time": send_time} if send_time else {}),
        **({"quota_day": day} if day else {}),
        **extra,
    }


def test_a_row_sent_after_midnight_in_the_time_zone_counts_in_the_new_month() -> None:
    ((ext, kind, month, attribute, token),) = tally.entries(row(1, NEW_YEAR_UTC_EVE))
    assert (ext, kind, month, attribute) == ("wm1", "QUOTA", "2027-01", "s01")
    assert token == tally.row_token("msgA", "u1") and len(token) == tally.TOKEN_CHARS


def test_limit_reached_without_send_time_counts_on_the_fallback_day() -> None:
    ((_, kind, month, attribute, _),) = tally.entries(row(3))
    assert (kind, month, attribute) == ("QUOTA", "2026-12", "l20")


def test_unsent_is_pending_in_the_tasks_utc_month_and_other_rows_count_nothing() -> None:
    ((_, kind, month, attribute, element),) = tally.entries(row(0))
    assert (kind, month, attribute) == ("PENDING", "2026-12", "p")
    assert tally.pending_msgid(element) == "msgA"
    assert tally.entries(row(2)) == set()  # not a friend
    assert tally.entries({"msgid": "m", "userid": "u", "chat_id": "wr1", "status": 1}) == set()


def test_changes_move_unsent_to_sent_and_an_unchanged_row_changes_nothing() -> None:
    unsent, sent = row(0), row(1, NEW_YEAR_UTC_EVE)
    assert tally.changes([(sent, sent), (unsent, unsent)]) == []
    moved = {(c.kind, c.month): c for c in tally.changes([(unsent, sent)])}
    assert moved[("PENDING", "2026-12")].delete == {"p": {f"{tally.row_token('msgA', 'u1')}#msgA"}}
    assert moved[("QUOTA", "2027-01")].add == {"s01": {tally.row_token("msgA", "u1")}}
    assert not moved[("PENDING", "2026-12")].add and not moved[("QUOTA", "2027-01")].delete


@pytest.mark.usefixtures("moto_table")
def test_one_set_gaining_and_losing_elements_is_two_updates_and_applying_twice_is_idempotent() -> None:
    other = {**row(0), "userid": "u2"}
    # u1's row leaves pending (sent) while u2's enters it: the same set both loses and gains an element
    change = tally.changes([(row(0), row(1, NEW_YEAR_UTC_EVE)), (None, other)])
    assert repo.apply_counter_changes([]) == 0
    repo.apply_counter_changes(tally.changes([(None, row(0))]))
    assert repo.apply_counter_changes(change) == 3  # pending: delete, then add; the month: one add
    repo.apply_counter_changes(change)
    reader = QuotaReader(repo=repo, rule="month", tz=TZ, pending_window_s=10**9)
    now = NEW_YEAR_UTC_EVE + 60
    assert reader.usage(["wm1"], now)["wm1"].received == 1
    pending = repo.pending_items([("wm1", "2026-12")])[("wm1", "2026-12")]["p"]
    assert pending == [f"{tally.row_token('msgA', 'u2')}#msgA"]
