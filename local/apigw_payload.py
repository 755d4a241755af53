"""The API Gateway HTTP API payload format 2.0, both ways: HTTP request → event, handler result → HTTP response.

Why apart from the server: these are the two places where a handler sees exactly what API Gateway would give it
(headers folded, cookies split, base64 for binary bodies, the no-statusCode shortcut); kept as pure functions
they are unit-tested field by field without a socket.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.apigw_routes import RouteMatch
from local.cloudformation import LOCAL_ACCOUNT_ID

LOCAL_API_ID = "local"
HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}
TEXT_TYPES = (
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/javascript",
)
LOCAL_IAM_IDENTITY = {
    "accessKey": "LOCALACCESSKEY",
    "accountId": LOCAL_ACCOUNT_ID,
    "callerId": "LOCALCALLER",
    "cognitoIdentity": None,
    "principalOrgId": None,
    "userArn": f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:user/local-developer",
    "userId": "LOCALUSER",
}


# ---------------------------------------------------------------- request → payload 2.0 event


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request the event is built from (kept separate so it can be unit-tested)."""

    method: str
    target: str  # path and query exactly as received
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


def is_text_content(content_type: str | None) -> bool:
    """Whether API Gateway would hand the body over as text (else it is base64-encoded)."""
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime in TEXT_TYPES or mime.endswith(("+json", "+xml"))


def build_event(
    request: HttpRequest, match: RouteMatch, *, request_id: str | None = None, now: float | None = None
) -> dict[str, Any]:
    """Turn an HTTP request into the API Gateway HTTP API payload format 2.0 event."""
    now = time.time() if now is None else now
    request_id = request_id or new_request_id()
    split = urlsplit(request.target)
    headers, cookies = _event_headers(request.headers)
    domain = headers.get("host", "127.0.0.1")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": split.path or "/",
        "rawQueryString": split.query,
        "headers": headers,
    }
    if cookies:
        event["cookies"] = cookies
    query = _query_parameters(split.query)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = _request_context(request, match, split.path or "/", domain, request_id, now)
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    event.update(_event_body(request.body, headers.get("content-type")))
    return event


def new_request_id() -> str:
    """An id shaped like API Gateway's (also echoed in the `apigw-requestid` response header)."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


def _event_headers(raw: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in raw:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers, cookies


def _query_parameters(query: str) -> dict[str, str]:
    """Decoded parameters; a repeated name becomes one comma-joined value, as API Gateway does."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def _request_context(
    request: HttpRequest, match: RouteMatch, path: str, domain: str, request_id: str, now: float
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "accountId": LOCAL_ACCOUNT_ID,
        "apiId": LOCAL_API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method.upper(),
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": next((v for k, v in request.headers if k.lower() == "user-agent"), ""),
        },
        "requestId": request_id,
        "routeKey": match.route.route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if match.route.auth == "AWS_IAM":
        # Deployed, IAM authorization puts the caller here; locally the admin API is open on loopback.
        context["authorizer"] = {"iam": dict(LOCAL_IAM_IDENTITY)}
    return context


def _event_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    if not body:
        return {"isBase64Encoded": False}
    if is_text_content(content_type):
        try:
            return {"body": body.decode("utf-8"), "isBase64Encoded": False}
        except UnicodeDecodeError:
            pass
    return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}


# ---------------------------------------------------------------- handler result → HTTP response


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class MalformedResponse(ValueError):
    """The handler's result is not something API Gateway can turn into HTTP (it answers 500)."""


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    body = json.dumps(payload).encode()
    return HttpResponse(status, [("Content-Type", "application/json"), *headers], body)


def to_http_response(result: Any) -> HttpResponse:
    """Map a payload 2.0 handler result to HTTP, including API Gateway's shortcut for results without statusCode."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return json_response(200, result)
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int | str) or not str(status).isdigit():
        raise MalformedResponse("statusCode is not an integer")
    if not 100 <= int(status) <= 599:
        raise MalformedResponse("statusCode out of range")
    return HttpResponse(int(status), _response_headers(result), _response_body(result))


def _response_headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), _header_value(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), _header_value(value)) for value in values or [])
    headers.extend(("Set-Cookie", _header_value(cookie)) for cookie in result.get("cookies") or [])
    for name, value in headers:
        if any(ch in name + value for ch in "\r\n") or not name:
            raise MalformedResponse("header contains a line break")
    return [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP]


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _response_body(result: dict[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        body = json.dumps(body)
    if result.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponse("isBase64Encoded body is not base64") from exc
    return body.encode("utf-8")
