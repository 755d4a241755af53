"""GetSecretValue as one signed HTTPS POST (the JSON protocol), with botocore's retry rules in small.

Why not botocore: on a cold start without SnapStart, importing botocore and loading the Secrets Manager model
is most of the callback's first answer; this costs ``http.client``, ``ssl`` and four HMACs. Retried: a
connection failure, a timeout, HTTP 5xx and throttling, once, after a short jittered pause (the same two
attempts as the botocore client it replaces). Not retried: every other refusal (access denied, no such
secret, a bad signature, an untrusted certificate) — a setup error that a second call would only repeat.
Errors carry the AWS error code and status, never the request, the answer's body or a credential.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl  # loaded by http.client already
import time
from collections.abc import Callable
from datetime import UTC, datetime

from wecom_bundle.secrets_manager.endpoint import Target
from wecom_bundle.secrets_manager.sigv4 import sign

ATTEMPTS = 2
PAUSE_S = (0.05, 0.2)  # jittered pause before the second attempt
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalServiceError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
    }
)
CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_HEADER = "secretsmanager.GetSecretValue"


class SecretReadError(RuntimeError):
    """GetSecretValue failed; ``retryable`` says whether another attempt may succeed. No secret inside."""

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def _connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "http":
        return http.client.HTTPConnection(target.host, timeout=timeout)
    context = ssl.create_default_context(cafile=target.ca_bundle or None)
    return http.client.HTTPSConnection(target.host, timeout=timeout, context=context)


def _error_code(body: bytes) -> str:
    """The AWS error code of a JSON-protocol refusal (``__type``, maybe namespaced), or "" if unreadable."""
    try:
        kind = json.loads(body).get("__type", "")
    except (ValueError, AttributeError):
        return ""
    return str(kind).rsplit("#", 1)[-1] if isinstance(kind, str) else ""


def _refusal(status: int, body: bytes) -> SecretReadError:
    code = _error_code(body)
    retryable = status >= 500 or status == 429 or code in RETRYABLE_CODES
    return SecretReadError(
        f"Secrets Manager answered HTTP {status} {code or '(no error code)'}".strip(), retryable
    )


def _secret_string(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        raise SecretReadError("Secrets Manager's answer is not JSON", retryable=False) from None
    value = doc.get("SecretString") if isinstance(doc, dict) else None
    if not isinstance(value, str):
        raise SecretReadError("Secrets Manager's answer has no SecretString", retryable=False)
    return value


def _attempt(target: Target, secret_id: str, timeout: float, now: datetime) -> str:
    body = json.dumps({"SecretId": secret_id}).encode()
    headers = sign(
        "POST",
        target.host,
        target.path,
        {"content-type": CONTENT_TYPE, "x-amz-target": TARGET_HEADER},
        body,
        target.credentials,
        target.scope,
        now,
    )
    headers["user-agent"] = "wecom-bundle"
    connection = _connection(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
    except TimeoutError:
        raise SecretReadError("Secrets Manager did not answer in time", retryable=True) from None
    except ssl.SSLCertVerificationError:
        reason = "Secrets Manager's certificate is not trusted (see AWS_CA_BUNDLE)"
        raise SecretReadError(reason, retryable=False) from None
    except (OSError, http.client.HTTPException) as exc:
        reason = f"Secrets Manager unreachable ({type(exc).__name__})"
        raise SecretReadError(reason, retryable=True) from None
    finally:
        connection.close()
    if response.status != 200:
        raise _refusal(response.status, answer)
    return _secret_string(answer)


def get_secret_string(
    target: Target,
    secret_id: str,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str:
    """The secret's SecretString; raises ``SecretReadError`` after ``ATTEMPTS`` or at a setup error."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _attempt(target, secret_id, timeout, clock())
        except SecretReadError as exc:
            if not exc.retryable or attempt == ATTEMPTS:
                raise
        sleep(random.uniform(*PAUSE_S))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")  # the loop returns or raises
