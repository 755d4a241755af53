"""Secret rotation without a redeploy: the deployed settings (moto Secrets Manager) are re-read after
POWERTOOLS_PARAMETERS_MAX_AGE, and at once (rate-limited) when a callback does not open or WeCom refuses the
corp secret; the Token/EncodingAESKey being rotated out still verifies while the secret names it."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.dynamodb import create_tables
from local.events import callback_get_event
from local.secrets_extension import start_secrets_extension
from local.settings import DEV_DEFAULTS
from local.template import load_template
from tests.support import dev_simulator, first_callback_answer, function_under_test
from wecom_bundle import config, runtime
from wecom_bundle.wecom.errors import WeComError

NAMES = ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
OLD = {name: DEV_DEFAULTS[name] for name in NAMES}


def _new_keys() -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits
    return {
        **OLD,
        "WECOM_CALLBACK_TOKEN": "rotated" + secrets.token_hex(4),
        "WECOM_ENCODING_AES_KEY": "".join(secrets.choice(alphabet) for _ in range(42)) + "A",
    }


def _doc(values: dict[str, str], previous: dict[str, str] | None = None) -> str:
    doc = {key: values[env] for env, key in config.SECRET_KEYS.items()}
    if previous:
        doc["previous_callback_token"] = previous["WECOM_CALLBACK_TOKEN"]
        doc["previous_encoding_aes_key"] = previous["WECOM_ENCODING_AES_KEY"]
    return json.dumps(doc)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Secret:
    """The deployed secret in moto, and how often the layer read it (``load`` is the settings cache's)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.client = boto3.client("secretsmanager", region_name="us-east-1")
        self.arn = self.client.create_secret(Name="wecom/bundle", SecretString=_doc(OLD))["ARN"]
        self.reads = 0
        monkeypatch.setenv("WECOM_SECRET_ID", self.arn)

    def load(self) -> config.WeComSettings:
        """The real read of the deployed settings, counted."""
        self.reads += 1
        return config.load_settings()

    def rotate(self, values: dict[str, str], previous: dict[str, str] | None = None) -> None:
        self.client.put_secret_value(SecretId=self.arn, SecretString=_doc(values, previous))


@pytest.fixture
def clock(secrets_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:  # noqa: ARG001
    """Deployed configuration (no WeCom settings in the environment) and a test clock for the settings."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "300")
    with mock_aws():
        yield Clock()


@pytest.fixture
def secret(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Secret]:
    """The deployed secret, read by the container's settings cache on the test clock (installed with
    ``runtime.overriding``; the previous cache is back afterwards)."""
    deployed = Secret(monkeypatch)
    with runtime.overriding(settings=config.SettingsCache(load=deployed.load, clock=clock)):
        yield deployed


def _verify(handler: Any, values: dict[str, str]) -> int:
    answer = handler(callback_get_event(values, echo="echo-1"))
    assert answer["statusCode"] != 200 or answer["body"] == "echo-1"
    return int(answer["statusCode"])


def test_settings_are_reread_once_older_than_the_max_age(secret: Secret, clock: Clock) -> None:
    assert config.settings().callback_token == OLD["WECOM_CALLBACK_TOKEN"]
    new = _new_keys()
    secret.rotate(new)
    clock.now += 299
    assert config.settings().callback_token == OLD["WECOM_CALLBACK_TOKEN"]  # cached within the max age
    clock.now += 2
    assert config.settings().callback_token == new["WECOM_CALLBACK_TOKEN"]
    assert secret.reads == 2


def test_rotated_token_verifies_within_the_cache_age(secret: Secret, clock: Clock) -> None:
    handler = function_under_test("CallbackFunction")
    assert _verify(handler, OLD) == 200
    new = _new_keys()
    secret.rotate(new)
    clock.now += 60  # well within the 300 s cache age
    assert _verify(handler, new) == 200  # WeCom's console check with the new values: the secret is re-read
    assert secret.reads == 2
    assert _verify(handler, OLD) == 401  # the old pair is gone (no previous_* in the secret)


def test_rereads_after_failures_are_rate_limited(secret: Secret, clock: Clock) -> None:
    handler = function_under_test("CallbackFunction")
    assert _verify(handler, OLD) == 200
    forged = _new_keys()
    for _ in range(5):
        assert _verify(handler, forged) == 401
    assert secret.reads == 2  # the first failure re-read the secret; the next four within 10 s did not
    clock.now += config.REREAD_MIN_INTERVAL_S
    assert _verify(handler, forged) == 401
    assert secret.reads == 3


def test_previous_pair_verifies_during_the_grace_window(secret: Secret, clock: Clock) -> None:
    handler = function_under_test("CallbackFunction")
    assert _verify(handler, OLD) == 200
    new = _new_keys()
    secret.rotate(new, previous=OLD)  # step 1: the secret holds the new pair and names the old one
    assert _verify(handler, new) == 200  # the console's check, signed with the new values
    assert _verify(handler, OLD) == 200  # WeCom still signing with the old values until the console is saved
    reads = secret.reads
    assert _verify(handler, OLD) == 200
    assert secret.reads == reads  # the previous pair opens it from memory: no re-read per request
    secret.rotate(new)  # step 3: grace window over
    clock.now += 301
    assert _verify(handler, new) == 200
    assert _verify(handler, OLD) == 401


def test_half_a_previous_pair_is_refused_by_name(secret: Secret) -> None:
    doc = json.loads(_doc(OLD))
    doc["previous_callback_token"] = "oldtoken"
    secret.client.put_secret_value(SecretId=secret.arn, SecretString=json.dumps(doc))
    with pytest.raises(config.ConfigError) as caught:
        config.load_settings()
    assert "WECOM_PREVIOUS_ENCODING_AES_KEY" in str(caught.value)
    assert "oldtoken" not in str(caught.value)


@pytest.mark.usefixtures("clock")
def test_unreadable_secret_on_reread_keeps_the_current_settings(secret: Secret) -> None:
    handler = function_under_test("CallbackFunction")
    assert _verify(handler, OLD) == 200
    secret.client.delete_secret(SecretId=secret.arn, ForceDeleteWithoutRecovery=True)
    assert _verify(handler, _new_keys()) == 401  # re-read failed: the rejection stands, no 5xx
    assert _verify(handler, OLD) == 200


@pytest.mark.usefixtures("clock")
def test_refused_corp_secret_rereads_the_secret_before_answering(
    secret: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated = {**OLD, "WECOM_CORP_SECRET": "rotated-corp-secret-" + secrets.token_hex(4)}
    simulator = dev_simulator(corp_secret=rotated["WECOM_CORP_SECRET"])  # WeCom already has the new one
    try:
        monkeypatch.setenv("WECOM_API_BASE", simulator.url)
        monkeypatch.setenv("TABLE_NAME", "MainTable")
        assert config.settings().corp_secret == OLD["WECOM_CORP_SECRET"]
        secret.rotate(rotated)
        _create_tables()
        with pytest.raises(WeComError) as caught:
            runtime.wecom_client().get("externalcontact/get", {"external_userid": "wmNobody"})
        assert caught.value.errcode == 84061  # past the token: WeCom answered about the customer
        assert simulator.state.gettoken_calls == 2  # refused with the old secret, then accepted with the new
        assert secret.reads == 2
    finally:
        runtime.reset_client()
        simulator.stop()


def _create_tables() -> None:
    """The token store's table in the active moto mock (created from template.yaml)."""
    create_tables(boto3.client("dynamodb", region_name="us-east-1"), load_template().tables.values())


def test_extension_endpoint_serves_the_secret_and_checks_the_session_token(
    secret: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    extension = start_secrets_extension(secret.client, session_token="session-token-1")
    try:
        monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(extension.port))
        monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-1")
        assert config.load_settings().corp_secret == OLD["WECOM_CORP_SECRET"]
        assert extension.requests == [secret.arn]
        monkeypatch.setenv("AWS_SESSION_TOKEN", "another-session")
        with pytest.raises(config.ConfigError) as caught:
            config.load_settings()
        assert "WECOM_SECRET_ID" in str(caught.value) and "401" in str(caught.value)
        assert OLD["WECOM_CORP_SECRET"] not in str(caught.value)
    finally:
        extension.stop()


@pytest.mark.usefixtures("tmp_path")
def test_extension_path_imports_no_sdk(secret: Secret) -> None:
    """The callback's first GET in a fresh interpreter, secret from the extension: no boto3, no botocore
    client machinery, no Powertools Parameters on its path (Powertools itself imports the bare ``botocore``
    package for its user agent, ~0.4 ms)."""
    extension = start_secrets_extension(secret.client, session_token="tok")
    try:
        environ = {
            "WECOM_SECRET_ID": secret.arn,
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(extension.port),
            "AWS_SESSION_TOKEN": "tok",
            "AWS_REGION": "us-east-1",
        }
        doc = first_callback_answer(callback_get_event(OLD, echo="echo-2"), environ)
        assert doc["answer"]["statusCode"] == 200 and doc["answer"]["body"] == "echo-2"
        assert doc["loaded"] == []
        assert extension.requests == [secret.arn]
    finally:
        extension.stop()
