"""GetSecretValue over real HTTP: against moto's server (the answer), and against a scripted server for every
failure (4xx setup errors not retried; 5xx, throttling and timeouts retried once; malformed answers)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import boto3
import pytest

from local.dynamodb import start_aws_services
from local.http_server import QuietThreadingHTTPServer
from local.tls_proxy import TlsProxyHandle, start_tls_proxy
from wecom_bundle.secrets_manager.endpoint import Target, resolve
from wecom_bundle.secrets_manager.get_secret import SecretReadError, get_secret_string

SECRET = '{"corp_secret": "s3cret-value"}'
LAMBDA = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
Answer = tuple[int, bytes, float]  # status, body, delay before answering


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    endpoint, stop = start_aws_services()
    yield endpoint
    stop()


def _target(endpoint: str) -> Target:
    target = resolve(LAMBDA | {"AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint}, "us-east-1")
    assert target is not None
    return target


@pytest.mark.usefixtures("aws_env")
def test_reads_the_secret_string_from_moto(moto_endpoint: str) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint)
    arn = client.create_secret(Name="wecom/get-secret", SecretString=SECRET)["ARN"]
    assert get_secret_string(_target(moto_endpoint), arn, timeout=5) == SECRET
    assert get_secret_string(_target(moto_endpoint), "wecom/get-secret", timeout=5) == SECRET


def test_missing_secret_is_a_setup_error_named_by_its_code(moto_endpoint: str) -> None:
    pauses: list[float] = []
    with pytest.raises(SecretReadError) as caught:
        get_secret_string(_target(moto_endpoint), "wecom/absent", timeout=5, sleep=pauses.append)
    # AWS answers 400; moto 404: either way a refusal, named by its code, and not retried
    assert re.fullmatch(
        r"Secrets Manager answered HTTP 40[04] ResourceNotFoundException", caught.value.reason
    )
    assert not caught.value.retryable and pauses == []


class Scripted:
    """A local HTTP server answering POSTs from a script; it records each request's headers."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.seen: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.seen.append({k.lower(): v for k, v in self.headers.items()})
                status, body, delay = outer.answers.pop(0)
                if delay:
                    threading.Event().wait(delay)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002  (the stdlib's signature)
                return

        self.server = QuietThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _read(answers: list[Answer], timeout: float = 5) -> tuple[str | SecretReadError, Scripted, list[float]]:
    server, pauses = Scripted(answers), []
    try:
        return (
            get_secret_string(_target(server.endpoint), "wecom/x", timeout, sleep=pauses.append),
            server,
            pauses,
        )
    except SecretReadError as exc:
        return exc, server, pauses
    finally:
        server.stop()


OK: Answer = (200, json.dumps({"SecretString": SECRET}).encode(), 0)


def _refusal(code: str, status: int = 400) -> Answer:
    return status, json.dumps({"__type": code, "message": "no access to s3cret-value"}).encode(), 0


def test_the_request_is_signed_for_secrets_manager() -> None:
    got, server, _ = _read([OK])
    assert got == SECRET
    (headers,) = server.seen
    assert headers["x-amz-target"] == "secretsmanager.GetSecretValue"
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert (
        "/us-east-1/secretsmanager/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"
        in headers["authorization"]
    )


@pytest.mark.parametrize(
    "first",
    [(500, b"{}", 0), _refusal("ThrottlingException"), _refusal("InternalServiceError", 500), (503, b"", 0)],
)
def test_transient_faults_are_retried_once(first: Answer) -> None:
    got, server, pauses = _read([first, OK])
    assert got == SECRET and len(server.seen) == 2 and len(pauses) == 1 and 0.05 <= pauses[0] <= 0.2


def test_a_fault_that_lasts_fails_after_two_attempts() -> None:
    got, server, pauses = _read([(502, b"", 0), (502, b"", 0)])
    assert isinstance(got, SecretReadError) and got.retryable and len(server.seen) == 2 and len(pauses) == 1
    assert got.reason == "Secrets Manager answered HTTP 502 (no error code)"


@pytest.mark.parametrize(
    "code",
    [
        "AccessDeniedException",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "com.amazon.coral.service#InvalidSignatureException",
        "ExpiredTokenException",
    ],
)
def test_setup_errors_are_not_retried_and_leak_nothing(code: str) -> None:
    got, server, pauses = _read([_refusal(code)])
    assert isinstance(got, SecretReadError) and not got.retryable
    assert len(server.seen) == 1 and pauses == []
    assert got.reason == f"Secrets Manager answered HTTP 400 {code.rsplit('#', 1)[-1]}"
    assert "s3cret" not in str(got)


def test_a_timeout_is_retried_once_then_reported() -> None:
    slow: Answer = (200, OK[1], 1.0)
    got, server, pauses = _read([slow, slow], timeout=0.2)
    assert isinstance(got, SecretReadError) and got.reason == "Secrets Manager did not answer in time"
    assert len(server.seen) == 2 and len(pauses) == 1


def test_a_slow_first_answer_then_a_good_one() -> None:
    got, server, _ = _read([(200, OK[1], 1.0), OK], timeout=0.2)
    assert got == SECRET and len(server.seen) == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>not json</html>", "Secrets Manager's answer is not JSON"),
        (b'{"Name": "wecom/x"}', "Secrets Manager's answer has no SecretString"),
        (b'{"SecretBinary": "czNjcmV0"}', "Secrets Manager's answer has no SecretString"),
        (b'["SecretString"]', "Secrets Manager's answer has no SecretString"),
    ],
)
def test_malformed_answers_are_errors(body: bytes, reason: str) -> None:
    got, server, pauses = _read([(200, body, 0)])
    assert isinstance(got, SecretReadError) and got.reason == reason and not got.retryable
    assert len(server.seen) == 1 and pauses == []


def test_an_unreachable_endpoint_is_retried_once_then_reported() -> None:
    server = Scripted([])
    endpoint = server.endpoint
    server.stop()  # nothing listens on the port any more
    pauses: list[float] = []
    with pytest.raises(SecretReadError) as caught:
        get_secret_string(_target(endpoint), "wecom/x", timeout=1, sleep=pauses.append)
    assert caught.value.reason.startswith("Secrets Manager unreachable (") and len(pauses) == 1


@pytest.fixture(scope="module")
def tls_endpoint(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsProxyHandle]:
    proxy = start_tls_proxy(moto_endpoint, tmp_path_factory.mktemp("tls"))
    yield proxy
    proxy.stop()


@pytest.mark.usefixtures("aws_env")
def test_reads_over_https_trusting_aws_ca_bundle(moto_endpoint: str, tls_endpoint: TlsProxyHandle) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint)
    arn = client.create_secret(Name="wecom/over-tls", SecretString=SECRET)["ARN"]
    environ = LAMBDA | {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": tls_endpoint.endpoint,
        "AWS_CA_BUNDLE": str(tls_endpoint.ca_bundle),
    }
    target = resolve(environ, "us-east-1")
    assert target is not None and target.scheme == "https"
    assert get_secret_string(target, arn, timeout=5) == SECRET


def test_an_untrusted_certificate_is_a_setup_error_not_retried(tls_endpoint: TlsProxyHandle) -> None:
    pauses: list[float] = []
    with pytest.raises(SecretReadError) as caught:
        get_secret_string(_target(tls_endpoint.endpoint), "wecom/x", timeout=5, sleep=pauses.append)
    assert caught.value.reason == "Secrets Manager's certificate is not trusted (see AWS_CA_BUNDLE)"
    assert not caught.value.retryable and pauses == []
