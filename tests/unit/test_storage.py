"""Storage access patterns against moto's DynamoDB (tables created from template.yaml)."""

from __future__ import annotations

import pytest

from wecom_bundle import storage

pytestmark = pytest.mark.usefixtures("moto_table")
WHO = {"external_userid": "wmC", "userid": "u", "create_time": 1}


def test_rules_crud() -> None:
    assert storage.list_rules() == []
    storage.put_rule(
        {"rule_id": "a", "priority": 1, "match": {}, "text": {"content": "hi"}, "attachments": []}
    )
    storage.put_rule({"rule_id": "b", "priority": 2, "match": {"state": "x"}, "attachments": []})
    assert {r["rule_id"] for r in storage.list_rules()} == {"a", "b"}
    assert storage.get_rule("a")["text"] == {"content": "hi"}
    assert "pk" not in storage.get_rule("a")  # storage keys never leak to callers
    assert storage.delete_rule("a") is True
    assert storage.delete_rule("a") is False
    assert storage.get_rule("a") is None


def test_claim_is_exclusive_until_the_lease_runs_out() -> None:
    base = {"external_userid": "wmC", "userid": "u", "state": "s", "create_time": 1}
    assert storage.claim_welcome("k1", "owner-a", 1_000, 5_000, base).won
    refused = storage.claim_welcome("k1", "owner-b", 2_000, 6_000, base)
    assert not refused.won
    assert refused.current["owner"] == "owner-a"
    assert refused.current["outcome"] == "pending"
    # owner-a crashed: after its lease, a retry may take over
    assert storage.claim_welcome("k1", "owner-c", 5_001, 9_000, base).won
    assert storage.record_welcome_outcome("k1", "owner-a", {"outcome": "sent"}, **WHO) is False  # stale owner
    assert storage.record_welcome_outcome("k1", "owner-c", {"outcome": "sent"}, **WHO) is True
    # a finished event is never claimed again, however late
    assert not storage.claim_welcome("k1", "owner-d", 99_999_999, 99_999_999, base).won
    assert storage.get_welcome("k1")["outcome"] == "sent"


def test_lease_renewal_only_for_the_owner() -> None:
    storage.claim_welcome("k2", "me", 0, 100, {})
    assert storage.renew_welcome_lease("k2", "me", 500) is True
    assert storage.renew_welcome_lease("k2", "other", 900) is False
    assert storage.get_welcome("k2")["lease_until_ms"] == 500


def test_welcome_log_queries_newest_first_with_cursor() -> None:
    for i in range(5):
        key = f"ev{i}"
        storage.claim_welcome(key, "o", 0, 10, {"state": "web" if i % 2 else "app"})
        storage.record_welcome_outcome(
            key,
            "o",
            {"outcome": "sent", "create_time": 1000 + i},
            external_userid="c",
            userid="u",
            create_time=1000 + i,
        )
    first = storage.query_welcomes("external_userid", "c", since=None, limit=2, cursor=None)
    assert [r["create_time"] for r in first.items] == [1004, 1003]
    second = storage.query_welcomes("external_userid", "c", since=None, limit=10, cursor=first.cursor)
    assert [r["create_time"] for r in second.items] == [1002, 1001, 1000]
    since = storage.query_welcomes("userid", "u", since=1003, limit=10, cursor=None)
    assert [r["create_time"] for r in since.items] == [1004, 1003]
    web = storage.query_welcomes("userid", "u", since=None, limit=10, cursor=None, equals={"state": "web"})
    assert [r["create_time"] for r in web.items] == [1003, 1001]


@pytest.mark.parametrize("cursor", ["not-base64!!", "bm90IGpzb24", "WzEsMl0"])
def test_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        storage.query_welcomes("userid", "u", since=None, limit=10, cursor=cursor)


def test_token_lease_and_publication() -> None:
    assert storage.get_token("corp") is None
    assert storage.acquire_token_lease(
        "corp", "a", now_ms=1_000, lease_until_ms=11_000, fresh_until_ms=601_000
    )
    assert not storage.acquire_token_lease(
        "corp", "b", now_ms=2_000, lease_until_ms=12_000, fresh_until_ms=602_000
    )
    storage.store_token("corp", "a", "TOKEN-1", 7_200_000)
    record = storage.get_token("corp")
    assert record["access_token"] == "TOKEN-1"
    assert "lease_owner" not in record
    # a fresh token exists: no second refresher, even with the lease free
    assert not storage.acquire_token_lease(
        "corp", "b", now_ms=3_000, lease_until_ms=13_000, fresh_until_ms=603_000
    )
    # inside the refresh-ahead window a refresher may take the lease
    assert storage.acquire_token_lease(
        "corp", "b", now_ms=7_000_000, lease_until_ms=7_010_000, fresh_until_ms=7_600_000
    )
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        storage.store_token(
            "corp", "a", "TOKEN-STALE", 1
        )  # a lease holder that lost its lease cannot publish
    storage.expire_token("corp", "TOKEN-OTHER")  # someone else's token: no effect
    assert storage.get_token("corp")["token_expires_at_ms"] == 7_200_000
    storage.expire_token("corp", "TOKEN-1")
    assert storage.get_token("corp")["token_expires_at_ms"] == 0


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
    storage.put_rule(rule)
    assert storage.get_rule("c") == rule


def test_the_dynamodb_read_timeout_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from wecom_bundle.config import ConfigError

    monkeypatch.setenv("DYNAMODB_READ_TIMEOUT_SECONDS", "12.5")
    storage.reset_client()
    assert storage.client().meta.config.read_timeout == 12.5
    monkeypatch.delenv("DYNAMODB_READ_TIMEOUT_SECONDS")
    storage.reset_client()
    assert storage.client().meta.config.read_timeout == 5.0  # the AWS default
    monkeypatch.setenv("DYNAMODB_READ_TIMEOUT_SECONDS", "soon")
    storage.reset_client()
    with pytest.raises(ConfigError, match="DYNAMODB_READ_TIMEOUT_SECONDS"):
        storage.client()
    storage.reset_client()
