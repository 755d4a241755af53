"""The layer's DynamoDB client: its read timeout is a setting (moto's DynamoDB, tables from template.yaml)."""

from __future__ import annotations

import pytest

from wecom_bundle.dynamo import client as dynamo_client

pytestmark = pytest.mark.usefixtures("moto_table")


def test_the_dynamodb_read_timeout_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from wecom_bundle.config import ConfigError

    monkeypatch.setenv("DYNAMODB_READ_TIMEOUT_SECONDS", "12.5")
    dynamo_client.reset_client()
    assert dynamo_client.client().meta.config.read_timeout == 12.5
    monkeypatch.delenv("DYNAMODB_READ_TIMEOUT_SECONDS")
    dynamo_client.reset_client()
    assert dynamo_client.client().meta.config.read_timeout == 5.0  # the AWS default
    monkeypatch.setenv("DYNAMODB_READ_TIMEOUT_SECONDS", "soon")
    dynamo_client.reset_client()
    with pytest.raises(ConfigError, match="DYNAMODB_READ_TIMEOUT_SECONDS"):
        dynamo_client.client()
    dynamo_client.reset_client()
