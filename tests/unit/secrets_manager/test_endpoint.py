"""The endpoint and credentials of the hand-signed read: what botocore would use, or ``None`` (botocore then
makes the call)."""

from __future__ import annotations

import botocore.session
import pytest

from wecom_bundle.secrets_manager.endpoint import resolve

LAMBDA = {
    "AWS_ACCESS_KEY_ID": "AKID",
    "AWS_SECRET_ACCESS_KEY": "wJalrSecretKey",
    "AWS_SESSION_TOKEN": "token",
}


def _botocore_endpoint(region: str) -> str:
    client = botocore.session.get_session().create_client(
        "secretsmanager", region_name=region, aws_access_key_id="a", aws_secret_access_key="b"
    )
    return str(client.meta.endpoint_url)


@pytest.mark.parametrize(
    "region", ["us-east-1", "ap-east-1", "ap-southeast-1", "cn-north-1", "cn-northwest-1", "us-gov-west-1"]
)
def test_regional_endpoint_is_botocores(region: str) -> None:
    target = resolve(LAMBDA, region)
    assert target is not None
    assert f"{target.scheme}://{target.host}" == _botocore_endpoint(region)
    assert (target.path, target.scope.region, target.scope.service) == ("/", region, "secretsmanager")
    assert target.credentials.session_token == "token"


def test_china_uses_the_amazonaws_com_cn_suffix() -> None:
    target = resolve(LAMBDA, "cn-northwest-1")
    assert target is not None and target.host == "secretsmanager.cn-northwest-1.amazonaws.com.cn"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://vpce-1.secretsmanager.cn-north-1.vpce.amazonaws.com.cn"
            },
            ("https", "vpce-1.secretsmanager.cn-north-1.vpce.amazonaws.com.cn", "/"),
        ),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, ("http", "127.0.0.1:4566", "/")),
        (
            {
                "AWS_ENDPOINT_URL": "http://global:1",
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://sm.example:443/p",
            },
            ("https", "sm.example", "/p"),
        ),
        # an explicit endpoint is used as it is, even with a proxy or the FIPS switch set (as botocore does)
        (
            {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://h:8080", "HTTPS_PROXY": "http://p:3128"},
            ("http", "h:8080", "/"),
        ),
    ],
)
def test_configured_endpoints_win(extra: dict[str, str], expected: tuple[str, str, str]) -> None:
    target = resolve(LAMBDA | extra, "cn-north-1")
    assert target is not None and (target.scheme, target.host, target.path) == expected


@pytest.mark.parametrize(
    ("environ", "region"),
    [
        ({"AWS_ACCESS_KEY_ID": "AKID"}, "us-east-1"),  # SnapStart: container credentials, not in the env
        ({}, "us-east-1"),
        (LAMBDA | {"AWS_USE_FIPS_ENDPOINT": "true"}, "us-east-1"),
        (LAMBDA | {"AWS_USE_DUALSTACK_ENDPOINT": "true"}, "cn-north-1"),
        (LAMBDA | {"HTTPS_PROXY": "http://proxy:3128"}, "us-east-1"),
        (LAMBDA, "us-iso-east-1"),  # other partitions: botocore's rules
        (LAMBDA, "not a region"),
        (LAMBDA | {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "ftp://h"}, "us-east-1"),
        (LAMBDA | {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://h:notaport"}, "us-east-1"),
        (LAMBDA | {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://user:pw@h"}, "us-east-1"),
        (
            LAMBDA
            | {
                "AWS_ENDPOINT_URL": "http://h",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
                "AWS_USE_FIPS_ENDPOINT": "true",
            },
            "us-east-1",
        ),
    ],
)
def test_botocore_decides_what_the_reader_cannot_know(environ: dict[str, str], region: str) -> None:
    assert resolve(environ, region) is None


def test_ignored_configured_endpoints_fall_back_to_the_regional_one() -> None:
    environ = LAMBDA | {"AWS_ENDPOINT_URL": "http://h", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    target = resolve(environ, "us-east-1")
    assert target is not None and target.host == "secretsmanager.us-east-1.amazonaws.com"


def test_target_repr_hides_the_credentials() -> None:
    target = resolve(LAMBDA, "us-east-1")
    assert target is not None and "wJalrSecretKey" not in repr(target) and "token" not in repr(target)
