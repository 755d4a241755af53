"""The hand-made SigV4 signature equals botocore's for the same request, credentials and time (moto's server
does not check signatures, so botocore's signer is the reference)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore import auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from wecom_bundle.secrets_manager.sigv4 import Credentials, Scope, sign

NOW = datetime(2026, 3, 9, 7, 5, 1, tzinfo=UTC)
BODY = b'{"SecretId": "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:wecom/bundle-AbCdEf"}'
HEADERS = {"content-type": "application/x-amz-json-1.1", "x-amz-target": "secretsmanager.GetSecretValue"}


def _botocore_authorization(
    monkeypatch: pytest.MonkeyPatch, url: str, host: str, token: str | None, region: str
) -> str:
    monkeypatch.setattr(auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method="POST", url=url, data=BODY, headers={**HEADERS, "Host": host})
    auth.SigV4Auth(
        BotoCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        "secretsmanager",
        region,
    ).add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize(
    ("url", "host", "token", "region"),
    [
        (
            "https://secretsmanager.cn-north-1.amazonaws.com.cn/",
            "secretsmanager.cn-north-1.amazonaws.com.cn",
            "IQoJb3JpZ2luX2Vj//token==",
            "cn-north-1",
        ),
        (
            "https://secretsmanager.us-east-1.amazonaws.com/",
            "secretsmanager.us-east-1.amazonaws.com",
            None,
            "us-east-1",
        ),
        ("http://127.0.0.1:4566/", "127.0.0.1:4566", "session", "ap-east-1"),
    ],
)
def test_signature_equals_botocores(
    monkeypatch: pytest.MonkeyPatch, url: str, host: str, token: str | None, region: str
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token or "")
    ours = sign("POST", host, "/", HEADERS, BODY, credentials, Scope(region, "secretsmanager"), NOW)
    assert ours["authorization"] == _botocore_authorization(monkeypatch, url, host, token, region)
    assert ours["x-amz-date"] == "20260309T070501Z"
    assert ("x-amz-security-token" in ours) is bool(token)


def test_signature_depends_on_every_input() -> None:
    credentials = Credentials("AKID", "secret", "token")
    scope = Scope("cn-north-1", "secretsmanager")
    base = sign("POST", "h", "/", HEADERS, BODY, credentials, scope, NOW)["authorization"]
    variants = [
        sign("POST", "h", "/", HEADERS, BODY + b" ", credentials, scope, NOW),
        sign("POST", "h2", "/", HEADERS, BODY, credentials, scope, NOW),
        sign("POST", "h", "/", HEADERS, BODY, Credentials("AKID", "other", "token"), scope, NOW),
        sign("POST", "h", "/", HEADERS, BODY, credentials, Scope("cn-northwest-1", "secretsmanager"), NOW),
        sign("POST", "h", "/", HEADERS, BODY, credentials, scope, NOW.replace(second=2)),
    ]
    assert all(v["authorization"] != base for v in variants)


def test_credentials_never_show_in_repr() -> None:
    credentials = Credentials("AKID", "the-secret-key", "the-token")
    assert "the-secret-key" not in repr(credentials) and "the-token" not in repr(credentials)
