"""The bundle's media bucket (``MEDIA_BUCKET``): the only S3 access, read-only.

Why its own module and a lazy botocore client: the callback path needs S3 only when a welcome's cached
WeCom id must be re-uploaded (rare), so a cold container never pays for the S3 client unless it does.
Locally ``S3_ENDPOINT`` points the client at moto's server (path-style addressing on a loopback endpoint).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

from wecom_bundle import aws
from wecom_bundle.config import ConfigError

_client: Any = None


@dataclass(frozen=True)
class S3Object:
    key: str
    etag: str
    content_type: str
    data: bytes = b""


def bucket_name() -> str:
    name = os.environ.get("MEDIA_BUCKET")
    if not name:
        raise ConfigError("missing setting MEDIA_BUCKET")
    return name


def client() -> Any:
    """The per-container S3 client: short timeouts (a welcome may be waiting), standard retries."""
    global _client
    if _client is None:
        local = bool(os.environ.get("S3_ENDPOINT"))
        _client = aws.client(
            "s3",
            "S3_ENDPOINT",
            connect_timeout=1,
            read_timeout=3,
            retries={"mode": "standard", "max_attempts": 2},
            s3={"addressing_style": "path" if local else "auto"},
        )
    return _client


def reset_client() -> None:
    """Forget the client (tests switch endpoints and mocks between cases)."""
    global _client
    _client = None


def _missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _call(operation: str, key: str) -> dict[str, Any] | None:
    """One S3 call on the object; None when the key does not exist."""
    try:
        return getattr(client(), operation)(Bucket=bucket_name(), Key=key)
    except Exception as exc:
        if _missing(exc):
            return None
        raise


def head(key: str) -> S3Object | None:
    """The object's ETag and type without its bytes; None when the key does not exist."""
    answer = _call("head_object", key)
    if answer is None:
        return None
    return S3Object(key, str(answer.get("ETag", "")).strip('"'), str(answer.get("ContentType") or ""))


def read(key: str) -> S3Object | None:
    """The object's bytes (WeCom caps uploads at 20 MB, so reading them whole is fine); None when missing."""
    answer = _call("get_object", key)
    if answer is None:
        return None
    body = answer["Body"]
    try:
        data = body.read()
    finally:
        body.close()
    etag = str(answer.get("ETag", "")).strip('"')
    return S3Object(key, etag, str(answer.get("ContentType") or "application/octet-stream"), data)


class Bucket(Protocol):
    """What the media cache needs of the bucket: this module satisfies it (imported on first use); a test
    may pass a stand-in holding objects in memory."""

    def bucket_name(self) -> str: ...
    def head(self, key: str) -> S3Object | None: ...
    def read(self, key: str) -> S3Object | None: ...
