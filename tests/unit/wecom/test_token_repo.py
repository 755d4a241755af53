"""The shared access token's repository against moto's DynamoDB: the one refresher's lease, publication and
expiry of a token."""

from __future__ import annotations

import pytest

from wecom_bundle.wecom import token_repo

pytestmark = pytest.mark.usefixtures("moto_table")


def test_token_lease_and_publication() -> None:
    assert token_repo.get_token("corp") is None
    assert token_repo.acquire_token_lease(
        "corp", "a", now_ms=1_000, lease_until_ms=11_000, fresh_until_ms=601_000
    )
    assert not token_repo.acquire_token_lease(
        "corp", "b", now_ms=2_000, lease_until_ms=12_000, fresh_until_ms=602_000
    )
    token_repo.store_token("corp", "a", "TOKEN-1", 7_200_000)
    record = token_repo.get_token("corp")
    assert record["access_token"] == "TOKEN-1"
    assert "lease_owner" not in record
    # a fresh token exists: no second refresher, even with the lease free
    assert not token_repo.acquire_token_lease(
        "corp", "b", now_ms=3_000, lease_until_ms=13_000, fresh_until_ms=603_000
    )
    # inside the refresh-ahead window a refresher may take the lease
    assert token_repo.acquire_token_lease(
        "corp", "b", now_ms=7_000_000, lease_until_ms=7_010_000, fresh_until_ms=7_600_000
    )
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        token_repo.store_token(
            "corp", "a", "TOKEN-STALE", 1
        )  # a lease holder that lost its lease cannot publish
    token_repo.expire_token("corp", "TOKEN-OTHER")  # someone else's token: no effect
    assert token_repo.get_token("corp")["token_expires_at_ms"] == 7_200_000
    token_repo.expire_token("corp", "TOKEN-1")
    assert token_repo.get_token("corp")["token_expires_at_ms"] == 0
