"""The deployed settings read without the extension: hand-signed over HTTP when Lambda's environment gives the
credentials, botocore otherwise; errors name WECOM_SECRET_ID and carry no secret; the first GET of a fresh
interpreter loads no SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local.events import callback_get_event
from local.settings import DEV_DEFAULTS
from tests.support import first_callback_answer
from wecom_bundle import config, runtime

NAMES = ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
DOC = {key: DEV_DEFAULTS[env] for env, key in config.SECRET_KEYS.items()}


@pytest.fixture
def deployed(secrets_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: ARG001
    """The deployed secret (moto, over HTTP) named by WECOM_SECRET_ID; no WeCom setting in the environment."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="wecom/bundle", SecretString=json.dumps(DOC))["ARN"]
        monkeypatch.setenv("WECOM_SECRET_ID", arn)
        yield arn


@pytest.mark.usefixtures("deployed")
def test_the_signed_read_needs_no_botocore_session() -> None:
    from wecom_bundle import aws

    aws.reset_client()
    assert config.load_settings().corp_secret == DEV_DEFAULTS["WECOM_CORP_SECRET"]
    assert aws._session is None  # the layer's botocore session was never made


@pytest.mark.usefixtures("deployed")
def test_without_credentials_in_the_environment_botocore_reads_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SnapStart's case: Lambda gives container credentials, not environment variables (a credentials file
    plays them here); the reader steps aside and the layer's botocore session makes the call."""
    from wecom_bundle import aws

    aws.reset_client()
    (tmp_path / "credentials").write_text("[default]\naws_access_key_id = a\naws_secret_access_key = b\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert config.load_settings().corp_secret == DEV_DEFAULTS["WECOM_CORP_SECRET"]
    assert aws._session is not None


def test_a_refusal_names_the_setting_and_its_code_never_the_secret(
    deployed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WECOM_SECRET_ID", deployed + "-gone")
    with pytest.raises(config.ConfigError) as caught:
        config.load_settings()
    message = str(caught.value)
    assert message.startswith(
        "cannot read the secret named by WECOM_SECRET_ID: Secrets Manager answered HTTP 4"
    )
    assert "ResourceNotFoundException" in message
    assert caught.value.__cause__ is None and caught.value.__context__ is not None
    assert all(value not in message for value in DOC.values())


@pytest.mark.usefixtures("deployed")
def test_an_unreachable_endpoint_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")
    with pytest.raises(config.ConfigError, match=r"WECOM_SECRET_ID: Secrets Manager unreachable \("):
        config.load_settings()


@pytest.mark.parametrize("init_type", ["on-demand", None])
def test_the_first_get_of_a_fresh_interpreter_loads_no_sdk(
    deployed: str, secrets_endpoint: str, init_type: str | None
) -> None:
    """Lambda without SnapStart and without the extension (China): the secret comes over one signed request;
    boto3 and botocore's client machinery stay unloaded (Powertools imports the bare ``botocore`` package)."""
    environ = {
        "WECOM_SECRET_ID": deployed,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": secrets_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
    }
    if init_type:  # read during the init, in the background (config.prefetch_settings)
        environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = init_type
    doc = first_callback_answer(callback_get_event(dict(DEV_DEFAULTS), echo="echo-3"), environ)
    assert doc["answer"]["statusCode"] == 200 and doc["answer"]["body"] == "echo-3"
    assert doc["loaded"] == []


class CountingLoad:
    """A settings load that counts its calls and fails while ``error`` is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: config.ConfigError | None = None

    def __call__(self) -> config.WeComSettings:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return config.load_settings()


@pytest.fixture
def counting(deployed: str) -> Iterator[CountingLoad]:  # noqa: ARG001
    load = CountingLoad()
    with runtime.overriding(settings=config.SettingsCache(load=load)):
        yield load


@pytest.mark.parametrize("init_type", ["on-demand", "provisioned-concurrency"])
def test_a_lambda_init_reads_the_secret_in_the_background(
    counting: CountingLoad, monkeypatch: pytest.MonkeyPatch, init_type: str
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", init_type)
    thread = config.prefetch_settings()
    assert thread is not None
    thread.join(10)
    assert counting.calls == 1
    assert config.settings().corp_secret == DEV_DEFAULTS["WECOM_CORP_SECRET"]
    assert counting.calls == 1  # the first request finds the settings read


@pytest.mark.parametrize("init_type", ["snap-start", "", None])
def test_no_background_read_under_snapstart_or_outside_lambda(
    counting: CountingLoad, monkeypatch: pytest.MonkeyPatch, init_type: str | None
) -> None:
    if init_type is None:
        monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    else:
        monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", init_type)
    assert config.prefetch_settings() is None
    assert counting.calls == 0


@pytest.mark.parametrize("through_extension", [False, True])
def test_no_background_read_when_the_environment_holds_the_settings_or_the_extension_serves_them(
    counting: CountingLoad, monkeypatch: pytest.MonkeyPatch, through_extension: bool
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    if through_extension:
        monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")
    else:
        for name in NAMES:
            monkeypatch.setenv(name, DEV_DEFAULTS[name])
    assert config.prefetch_settings() is None
    assert counting.calls == 0


def test_a_failed_background_read_is_reported_by_the_first_request(
    counting: CountingLoad, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    counting.error = config.ConfigError("cannot read the secret named by WECOM_SECRET_ID: test")
    thread = config.prefetch_settings()
    assert thread is not None
    thread.join(10)
    assert capsys.readouterr().err == ""  # nothing printed by the thread
    with pytest.raises(config.ConfigError, match="WECOM_SECRET_ID: test"):
        config.settings()
    assert counting.calls == 2
