"""Storage access patterns against moto's DynamoDB (tables created from template.yaml)."""

from __future__ import annotations

import pytest

from wecom_bundle import storage

pytestmark = pytest.mark.usefixtures("moto_table")


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
