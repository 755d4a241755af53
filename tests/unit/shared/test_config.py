"""Configuration: env locally, one Secrets Manager secret deployed; failures name the setting, never a value."""

from __future__ import annotations

import json
import os

import boto3
import pytest
from moto import mock_aws

from local.settings import DEV_DEFAULTS
from wecom_bundle import config, runtime
from wecom_bundle.config import ConfigError, load_settings

NAMES = ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")


@pytest.fixture
def no_wecom_env(secrets_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ARG001
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("aws_env")
def test_environment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECOM_API_BASE", "http://127.0.0.1:9/")
    settings = load_settings()
    assert settings.corp_id == DEV_DEFAULTS["WECOM_CORP_ID"]
    assert settings.api_base == "http://127.0.0.1:9"
    assert DEV_DEFAULTS["WECOM_CORP_SECRET"] not in repr(settings)


@pytest.mark.usefixtures("aws_env")
def test_default_api_base_is_wecom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WECOM_API_BASE", raising=False)
    assert load_settings().api_base == "https://qyapi.weixin.qq.com"


@pytest.mark.usefixtures("no_wecom_env")
def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    for name in NAMES:
        assert name in str(caught.value)


@pytest.mark.usefixtures("aws_env")
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
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
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


@pytest.mark.usefixtures("aws_env")
def test_an_installed_settings_cache_serves_the_container_through_its_load_and_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The public seam: a ``SettingsCache`` with its own load and clock, in force through
    ``runtime.overriding``, is what ``config.settings()`` (and so every reader) answers from; the replaced
    one comes back."""
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "300")
    now, loads = [0.0], []

    def load() -> config.WeComSettings:
        loads.append(now[0])
        return load_settings()

    previous = config.settings
    installed = config.SettingsCache(load=load, clock=lambda: now[0])
    with runtime.overriding(settings=installed):
        assert config.settings is installed
        assert config.settings().corp_id == DEV_DEFAULTS["WECOM_CORP_ID"]
        now[0] = 299.0
        config.settings()
        now[0] = 301.0
        config.settings()
        assert loads == [0.0, 301.0]  # re-read only once older than the max age
    assert config.settings is previous


@pytest.mark.parametrize(
    "value",
    [
        "socks5://10.0.0.5:1080",
        "http://:3128",
        "http://proxy.corp.example",
        "http://proxy.corp.example:3128/path",
        "http://user:s3cr3t@proxy.corp.example:notaport",
        "proxy.corp.example:3128",
    ],
)
@pytest.mark.usefixtures("aws_env")
def test_a_malformed_wecom_proxy_fails_at_load_naming_it_never_its_value(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    for key, setting in DEV_DEFAULTS.items():
        monkeypatch.setenv(key, setting)
    monkeypatch.setenv("WECOM_PROXY_URL", value)
    with pytest.raises(ConfigError, match="WECOM_PROXY_URL") as refused:
        load_settings()
    assert value not in str(refused.value) and "s3cr3t" not in str(refused.value)


@pytest.mark.usefixtures("aws_env")
def test_the_wecom_proxy_is_a_setting_of_the_wecom_transport_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, setting in DEV_DEFAULTS.items():
        monkeypatch.setenv(key, setting)
    monkeypatch.setenv("WECOM_PROXY_URL", "http://user:s3cr3t@10.0.0.5:3128/")
    settings = load_settings()
    assert settings.proxy_url == "http://user:s3cr3t@10.0.0.5:3128"
    assert "s3cr3t" not in repr(settings)
    assert not {"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"} & set(os.environ)
