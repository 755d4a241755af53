"""AWS Signature Version 4 for one request: the ``Authorization`` header and the headers it signs.

Why by hand: the algorithm is four HMACs over a canonical request (AWS「Create a signed AWS API request」
https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html), stdlib only, whereas botocore's
signer comes with botocore's import and model loading. The tests check the result against botocore's
``SigV4Auth`` for the same inputs and time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True, repr=False)
class Credentials:
    """An access key pair and its session token. ``repr`` is hidden so a stray log line leaks nothing."""

    access_key_id: str
    secret_access_key: str
    session_token: str = ""

    def __repr__(self) -> str:
        return "Credentials(<hidden>)"


@dataclass(frozen=True)
class Scope:
    """Where a signature is valid: the region and the service's signing name."""

    region: str
    service: str


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _signing_key(secret: str, day: str, scope: Scope) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), day)
    for part in (scope.region, scope.service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _canonical_request(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """The canonical request and its signed-header list (every header given is signed)."""
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
    signed = ";".join(names)
    payload = hashlib.sha256(body).hexdigest()
    return "\n".join((method, path or "/", "", canonical_headers, signed, payload)), signed


def sign(
    method: str,
    host: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    credentials: Credentials,
    scope: Scope,
    now: datetime,
) -> dict[str, str]:
    """The request's headers (lower-case names) with ``x-amz-date``, the session token and ``authorization``.

    ``host`` is the Host header as sent (with a non-default port); ``now`` is a UTC time; the query string is
    empty (the JSON protocol puts everything in the body)."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    signed_headers = {name.lower(): value for name, value in headers.items()}
    signed_headers |= {"host": host, "x-amz-date": stamp}
    if credentials.session_token:
        signed_headers["x-amz-security-token"] = credentials.session_token
    request, signed = _canonical_request(method, path, signed_headers, body)
    day = stamp[:8]
    credential_scope = f"{day}/{scope.region}/{scope.service}/aws4_request"
    digest = hashlib.sha256(request.encode()).hexdigest()
    to_sign = "\n".join((ALGORITHM, stamp, credential_scope, digest))
    signature = hmac.new(
        _signing_key(credentials.secret_access_key, day, scope), to_sign.encode(), hashlib.sha256
    )
    signed_headers["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{credential_scope}, "
        f"SignedHeaders={signed}, Signature={signature.hexdigest()}"
    )
    return signed_headers
