"""wecomctl's API client: error mapping, loopback detection, and SigV4 signing checked from the outside.

Signing is observed the way API Gateway sees it: a tiny local ``http.server`` records every request. To reach
it with a non-loopback URL (which must be signed), it also acts as the HTTP proxy (``HTTP_PROXY``), so
requests send it ``GET http://<api-id>.execute-api.<region>.amazonaws.com/...`` unchanged. The signature is
then recomputed by an independent SigV4 implementation below, so "signed" means "API Gateway would accept
it", not "botocore was called".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from local.http_server import QuietThreadingHTTPServer
from wecomctl.http import (
    ApiClient,
    ConnectError,
    CredentialsError,
    UsageError,
    encode_query,
    error_from_response,
    is_loopback,
    resolve_region,
)
from wecomctl.main import main

ACCESS_KEY = "AKIDWECOMCTLTEST0001"
SECRET_KEY = "wecomctl/test/secret/never+printed"
SESSION_TOKEN = "session-token-for-wecomctl-tests"
REMOTE = "http://abc123defg.execute-api.eu-west-1.amazonaws.com"
AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CREDENTIAL_EXPIRATION",
)


# ------------------------------------------------------------------------------ a recording server
@dataclass
class Recorded:
    method: str
    target: str  # as received: an absolute URI when the server acted as the proxy
    headers: dict[str, str]  # lower-cased names
    body: bytes


class FakeApi:
    """Records requests; answers queued replies (status, JSON or bytes), else 200 ``{}``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: list[tuple[int, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                api.requests.append(Recorded(self.command, self.path, headers, body))
                status, payload = api.replies.pop(0) if api.replies else (200, {})
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = QuietThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    yield api
    api.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No AWS configuration at all (no profile files, no IMDS); tests add what they need."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture
def credentials(aws: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    aws.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    aws.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    return aws


@pytest.fixture
def proxied(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    """Route plain-HTTP requests to any host through the fake API (acting as the proxy)."""
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, fake_api.url)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return fake_api


# ------------------------------------------------------------------ an independent SigV4 verifier
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def expected_signature(request: Recorded, secret: str) -> str:
    """SigV4 as API Gateway computes it from what arrived (AWS docs, "Create a signed AWS API request")."""
    auth = _AUTH.match(request.headers["authorization"])
    assert auth, request.headers["authorization"]
    url = urlsplit(request.target)
    pairs = parse_qsl(url.query, keep_blank_values=True)
    query = "&".join(sorted(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs))
    signed = auth["signed"].split(";")
    headers = "".join(f"{name}:{' '.join(request.headers[name].split())}\n" for name in signed)
    canonical = "\n".join(
        [
            request.method,
            quote(url.path or "/", safe="/-_.~"),
            query,
            headers,
            auth["signed"],
            hashlib.sha256(request.body).hexdigest(),
        ]
    )
    scope = f"{auth['date']}/{auth['region']}/{auth['service']}/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            request.headers["x-amz-date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret).encode()
    for part in (auth["date"], auth["region"], auth["service"], "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------ error mapping
def test_admin_error_shape_keeps_every_field() -> None:
    body = json.dumps(
        {
            "error": {
                "code": "rate_limited",
                "message": "3 reminders in 24 h",
                "field": "msgid",
                "errcode": 45009,
                "next_allowed_at": 1700000000,
            }
        }
    ).encode()
    error = error_from_response(429, body)
    assert (error.status, error.code, error.message, error.field, error.errcode) == (
        429,
        "rate_limited",
        "3 reminders in 24 h",
        "msgid",
        45009,
    )
    assert error.next_allowed_at == 1700000000
    assert error.exit_code == 1
    assert error.describe() == (
        "error: rate_limited (HTTP 429): msgid: 3 reminders in 24 h (WeCom errcode 45009)"
    )


def test_gateway_and_foreign_errors_still_read_well() -> None:
    forbidden = error_from_response(403, b'{"message":"Forbidden"}')
    assert (forbidden.code, forbidden.message) == ("http_403", "Forbidden")
    html = error_from_response(502, b"<html>Bad Gateway</html>\n")
    assert (html.code, html.message) == ("http_502", "<html>Bad Gateway</html>")
    empty = error_from_response(404, b"")
    assert (empty.code, empty.message) == ("http_404", "no message")
    assert error_from_response(400, b'{"error": "flat"}').code == "http_400"


# ------------------------------------------------------------------------------ addresses, regions
@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:3000", True),
        ("http://127.8.9.10", True),
        ("http://localhost:3000", True),
        ("http://[::1]:3000", True),
        (REMOTE, False),
        ("https://admin.example.com/prod", False),
        ("http://10.0.0.5:3000", False),
        ("http://127.0.0.1.nip.io", False),
    ],
)
def test_only_loopback_is_unsigned(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_region_comes_from_option_then_host_then_config() -> None:
    class Config:
        def __init__(self, region: str | None) -> None:
            self.region = region

        def get_config_variable(self, name: str) -> str | None:  # noqa: ARG002
            return self.region

    assert resolve_region(REMOTE, "ap-east-1", Config("us-east-1")) == "ap-east-1"
    assert resolve_region(REMOTE, None, Config("us-east-1")) == "eu-west-1"
    assert resolve_region("https://admin.example.com", None, Config("us-east-1")) == "us-east-1"
    with pytest.raises(CredentialsError, match="--region"):
        resolve_region("https://admin.example.com", None, Config(None))


def test_query_is_encoded_the_way_sigv4_canonicalizes_it() -> None:
    assert encode_query({"since": "2025-01-01T00:00:00+08:00", "state": "展会 A", "x": None, "y": ""}) == (
        "since=2025-01-01T00%3A00%3A00%2B08%3A00&state=%E5%B1%95%E4%BC%9A%20A"
    )


def test_api_must_be_an_http_url() -> None:
    with pytest.raises(UsageError, match="--api must be an http"):
        ApiClient("ftp://example.com")


# ------------------------------------------------------------------------------------------ signing
@pytest.mark.usefixtures("credentials")
def test_remote_requests_are_sigv4_signed_for_execute_api(proxied: FakeApi) -> None:
    proxied.replies = [(200, {"items": [], "cursor": None})]
    code = main(
        ["--api", REMOTE, "--json", "welcomes", "--since", "2025-01-01T00:00:00+08:00", "--state", "展会"]
    )
    assert code == 0
    (request,) = proxied.requests
    assert request.target.startswith(f"{REMOTE}/admin/welcomes?")
    auth = _AUTH.match(request.headers["authorization"])
    assert auth is not None
    assert (auth["key"], auth["region"], auth["service"]) == (ACCESS_KEY, "eu-west-1", "execute-api")
    assert {"host", "x-amz-date"} <= set(auth["signed"].split(";"))
    assert "x-amz-security-token" not in request.headers
    assert auth["signature"] == expected_signature(request, SECRET_KEY)


def test_signed_body_and_session_token(proxied: FakeApi, credentials: pytest.MonkeyPatch) -> None:
    credentials.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    proxied.replies = [(201, {"rule_id": "vip", "priority": 5})]
    code = main(
        ["--api", REMOTE, "--region", "ap-east-1", "rules", "put", "vip", "--text", "您好", "--priority", "5"]
    )
    assert code == 0
    (request,) = proxied.requests
    assert request.method == "PUT"
    assert json.loads(request.body) == {"text": {"content": "您好"}, "priority": 5}
    assert request.headers["x-amz-security-token"] == SESSION_TOKEN
    auth = _AUTH.match(request.headers["authorization"])
    assert auth is not None and auth["region"] == "ap-east-1"
    assert "x-amz-security-token" in auth["signed"].split(";")
    assert auth["signature"] == expected_signature(request, SECRET_KEY)


@pytest.mark.usefixtures("credentials")
def test_a_tampered_request_would_not_verify(proxied: FakeApi) -> None:
    """The verifier is not vacuous: change the body after signing and the signature no longer matches."""
    main(["--api", REMOTE, "rules", "put", "vip", "--text", "hello"])
    request = proxied.requests[0]
    forged = Recorded(
        request.method, request.target, request.headers, request.body.replace(b"hello", b"HELLO")
    )
    assert _AUTH.match(request.headers["authorization"])["signature"] != expected_signature(
        forged, SECRET_KEY
    )  # type: ignore[index]


@pytest.mark.usefixtures("credentials")
def test_loopback_is_sent_unsigned_even_with_credentials(fake_api: FakeApi) -> None:
    fake_api.replies = [(200, {"items": []})]
    assert main(["--api", fake_api.url, "rules", "list"]) == 0
    (request,) = fake_api.requests
    assert request.target == "/admin/welcome-rules"
    assert "authorization" not in request.headers
    assert "x-amz-date" not in request.headers


@pytest.mark.usefixtures("aws")
def test_remote_without_credentials_is_exit_2_and_sends_nothing(
    proxied: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--api", REMOTE, "rules", "list"]) == 2
    assert "no AWS credentials were found" in capsys.readouterr().err
    assert proxied.requests == []


@pytest.mark.usefixtures("credentials")
def test_remote_without_region_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--api", "https://admin.example.com", "rules", "list"]) == 2
    assert "no AWS region" in capsys.readouterr().err


def test_credentials_never_reach_the_output(
    proxied: FakeApi, credentials: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    proxied.replies = [(403, {"message": "User is not authorized to access this resource"})]
    assert main(["--api", REMOTE, "rules", "list"]) == 1
    captured = capsys.readouterr()
    assert "error: http_403 (HTTP 403): User is not authorized" in captured.err
    for secret in (SECRET_KEY, SESSION_TOKEN, ACCESS_KEY):
        assert secret not in captured.out + captured.err


# ------------------------------------------------------------------------------------- connections
def test_connection_refused_is_exit_2_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    api = FakeApi()
    url = api.url
    api.stop()  # nothing listens there any more
    assert main(["--api", url, "rules", "list"]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the admin API at {url}" in err
    assert "make run" in err


def test_timeout_is_exit_2() -> None:
    api = FakeApi()
    try:
        stall = threading.Event()
        api.server.RequestHandlerClass.do_GET = lambda _self: stall.wait(5)  # type: ignore[attr-defined]
        client = ApiClient(api.url, timeout=0.2)
        with pytest.raises(ConnectError, match=r"no answer .* within 0.2 s"):
            client.get("/admin/welcome-rules")
        stall.set()
    finally:
        api.stop()
