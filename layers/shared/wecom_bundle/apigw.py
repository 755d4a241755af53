"""API Gateway HttpApi (payload 2.0) request and response helpers for the callback handler (the admin API
uses Powertools' resolver)."""

from __future__ import annotations

import base64
import binascii
from typing import Any


class BodyError(ValueError):
    """The request body is not what the route accepts (bad base64, not UTF-8, not JSON)."""


def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BodyError("body is not valid base64") from exc
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def method(event: dict[str, Any]) -> str:
    return str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()


def text(status: int, body: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": body}
