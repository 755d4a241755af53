"""The welcome repository's access patterns against moto's DynamoDB (tables created from template.yaml):
rules, the claim of an event and its lease, the outcome record and the welcome log's queries."""

from __future__ import annotations

import pytest

from wecom_bundle.welcome import repo as welcome_repo

pytestmark = pytest.mark.usefixtures("moto_table")
WHO = {"external_userid": "wmC", "userid": "u", "create_time": 1}


def test_rules_crud() -> None:
    assert welcome_repo.list_rules() == []
    welcome_repo.put_rule(
        {"rule_id": "a", "priority": 1, "match": {}, "text": {"content": "hi"}, "attachments": []}
    )
    welcome_repo.put_rule({"rule_id": "b", "priority": 2, "match": {"state": "x"}, "attachments": []})
    assert {r["rule_id"] for r in welcome_repo.list_rules()} == {"a", "b"}
    assert welcome_repo.get_rule("a")["text"] == {"content": "hi"}
    assert "pk" not in welcome_repo.get_rule("a")  # storage keys never leak to callers
    assert welcome_repo.delete_rule("a") is True
    assert welcome_repo.delete_rule("a") is False
    assert welcome_repo.get_rule("a") is None


def test_claim_is_exclusive_until_the_lease_runs_out() -> None:
    base = {"external_userid": "wmC", "userid": "u", "state": "s", "create_time": 1}
    assert welcome_repo.claim_welcome("k1", "owner-a", 1_000, 5_000, base).won
    refused = welcome_repo.claim_welcome("k1", "owner-b", 2_000, 6_000, base)
    assert not refused.won
    assert refused.current["owner"] == "owner-a"
    assert refused.current["outcome"] == "pending"
    # owner-a crashed: after its lease, a retry may take over
    assert welcome_repo.claim_welcome("k1", "owner-c", 5_001, 9_000, base).won
    assert (
        welcome_repo.record_welcome_outcome("k1", "owner-a", {"outcome": "sent"}, **WHO) is False
    )  # stale owner
    assert welcome_repo.record_welcome_outcome("k1", "owner-c", {"outcome": "sent"}, **WHO) is True
    # a finished event is never claimed again, however late
    assert not welcome_repo.claim_welcome("k1", "owner-d", 99_999_999, 99_999_999, base).won
    assert welcome_repo.get_welcome("k1")["outcome"] == "sent"


def test_lease_renewal_only_for_the_owner() -> None:
    welcome_repo.claim_welcome("k2", "me", 0, 100, {})
    assert welcome_repo.renew_welcome_lease("k2", "me", 500) is True
    assert welcome_repo.renew_welcome_lease("k2", "other", 900) is False
    assert welcome_repo.get_welcome("k2")["lease_until_ms"] == 500


def test_welcome_log_queries_newest_first_with_cursor() -> None:
    for i in range(5):
        key = f"ev{i}"
        welcome_repo.claim_welcome(key, "o", 0, 10, {"state": "web" if i % 2 else "app"})
        welcome_repo.record_welcome_outcome(
            key,
            "o",
            {"outcome": "sent", "create_time": 1000 + i},
            external_userid="c",
            userid="u",
            create_time=1000 + i,
        )
    first = welcome_repo.query_welcomes("external_userid", "c", since=None, limit=2, cursor=None)
    assert [r["create_time"] for r in first.items] == [1004, 1003]
    second = welcome_repo.query_welcomes("external_userid", "c", since=None, limit=10, cursor=first.cursor)
    assert [r["create_time"] for r in second.items] == [1002, 1001, 1000]
    since = welcome_repo.query_welcomes("userid", "u", since=1003, limit=10, cursor=None)
    assert [r["create_time"] for r in since.items] == [1004, 1003]
    web = welcome_repo.query_welcomes(
        "userid", "u", since=None, limit=10, cursor=None, equals={"state": "web"}
    )
    assert [r["create_time"] for r in web.items] == [1003, 1001]


@pytest.mark.parametrize("cursor", ["not-base64!!", "bm90IGpzb24", "WzEsMl0"])
def test_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        welcome_repo.query_welcomes("userid", "u", since=None, limit=10, cursor=cursor)


def test_codec_round_trip_through_dynamodb() -> None:
    rule = {
        "rule_id": "c",
        "priority": -3,
        "match": {"weekdays": [1, 7]},
        "attachments": [{"msgtype": "file", "file": {"media_id": "m"}}],
        "ratio": 0.25,
        "none": None,
        "flag": True,
        "text": {"content": "中文 ✓"},
    }
    welcome_repo.put_rule(rule)
    assert welcome_repo.get_rule("c") == rule
