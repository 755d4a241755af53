"""Configuration: env locally, one Secrets Manager secret deployed; failures name the setting, never a value."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from local.settings import DEV_DEFAULTS
from wecom_bundle import config
from wecom_bundle.config import ConfigError, load_settings

NAMES = ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")


@pytest.fixture
def no_wecom_env(secrets_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_environment_settings(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECOM_API_BASE", "http://127.0.0.1:9/")
    settings = load_settings()
    assert settings.corp_id == DEV_DEFAULTS["WECOM_CORP_ID"]
    assert settings.api_base == "http://127.0.0.1:9"
    assert DEV_DEFAULTS["WECOM_CORP_SECRET"] not in repr(settings)


def test_default_api_base_is_wecom(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WECOM_API_BASE", raising=False)
    assert load_settings().api_base == "https://qyapi.weixin.qq.com"


@pytest.mark.usefixtures("no_wecom_env")
def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    for name in NAMES:
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("WECOM_ENCODING_AES_KEY", "short", "WECOM_ENCODING_AES_KEY"),
        ("WECOM_ENCODING_AES_KEY", "!" * 43, "WECOM_ENCODING_AES_KEY"),
        ("WECOM_CALLBACK_TOKEN", "has space", "WECOM_CALLBACK_TOKEN"),
        ("WECOM_API_BASE", "ftp://x", "WECOM_API_BASE"),
    ],
)
def test_malformed_settings_are_named_without_their_value(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert needle in str(caught.value)
    assert value not in str(caught.value)


def _secret(doc: object) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return client.create_secret(Name="wecom/bundle", SecretString=json.dumps(doc))["ARN"]


@pytest.mark.usefixtures("no_wecom_env")
def test_deployed_settings_come_from_one_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        arn = _secret(
            {
                "corp_id": "wwcorp",
                "corp_secret": "s3cret",
                "callback_token": "tok",
                "encoding_aes_key": DEV_DEFAULTS["WECOM_ENCODING_AES_KEY"],
            }
        )
        monkeypatch.setenv("WECOM_SECRET_ID", arn)
        settings = load_settings()
    assert (settings.corp_id, settings.corp_secret, settings.callback_token) == ("wwcorp", "s3cret", "tok")


@pytest.mark.usefixtures("no_wecom_env")
@pytest.mark.parametrize(
    ("doc", "needle"),
    [({"corp_id": "wwcorp"}, "WECOM_CORP_SECRET"), (["not", "an", "object"], "JSON object")],
)
def test_incomplete_secret_is_named(monkeypatch: pytest.MonkeyPatch, doc: object, needle: str) -> None:
    with mock_aws():
        monkeypatch.setenv("WECOM_SECRET_ID", _secret(doc))
        with pytest.raises(ConfigError) as caught:
            load_settings()
    assert needle in str(caught.value)


@pytest.mark.usefixtures("no_wecom_env")
def test_unreadable_secret_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        monkeypatch.setenv("WECOM_SECRET_ID", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing")
        with pytest.raises(ConfigError, match="WECOM_SECRET_ID"):
            load_settings()


def test_tunables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_BAD", "twelve")
    assert config.env_int("X_INT", 1) == 12
    assert config.env_int("X_UNSET", 7) == 7
    with pytest.raises(ConfigError, match="X_BAD"):
        config.env_int("X_BAD", 1)
    with pytest.raises(ConfigError, match="X_BAD"):
        config.env_float("X_BAD", 1.0)


def test_an_installed_settings_cache_serves_the_container_through_its_load_and_clock(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The public seam: a ``SettingsCache`` with its own load and clock, installed with ``use_settings``,
    is what ``config.settings()`` (and so every reader) answers from; the replaced one comes back."""
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "300")
    now, loads = [0.0], []

    def load() -> config.WeComSettings:
        loads.append(now[0])
        return load_settings()

    previous = config.use_settings(config.SettingsCache(load=load, clock=lambda: now[0]))
    try:
        assert config.settings().corp_id == DEV_DEFAULTS["WECOM_CORP_ID"]
        now[0] = 299.0
        config.settings()
        now[0] = 301.0
        config.settings()
        assert loads == [0.0, 301.0]  # re-read only once older than the max age
    finally:
        assert config.use_settings(previous) is not previous
    assert config.settings is previous
