"""A local stand-in for the API Gateway HTTP API: template routes → payload 2.0 events → in-process handlers.

Why mimic API Gateway this closely (event fields, 404 for unmatched routes, 413 above 10 MB, 500 for a raised
handler, the no-statusCode shortcut): handlers are tested here and then deployed unchanged, so every
difference would be a bug that only shows up in AWS.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.cloudformation import LOCAL_ACCOUNT_ID
from local.http_server import QuietThreadingHTTPServer
from local.lambda_runtime import HandlerLoadError, LocalLambdaRuntime, UnknownFunction
from local.scheduler import scheduled_event
from local.template import RouteSpec, ScheduleSpec

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
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


# ---------------------------------------------------------------- routing


@dataclass(frozen=True)
class RouteMatch:
    route: RouteSpec
    path_parameters: dict[str, str]


def match_route(routes: Iterable[RouteSpec], method: str, raw_path: str) -> RouteMatch | None:
    """The route API Gateway would pick: exact paths before `{param}`, before `{proxy+}`, before `$default`.

    A known path with an undeclared method matches nothing (HTTP APIs answer 404 for it, not 405).
    """
    candidates = []
    segments = raw_path.split("/")[1:]
    for route in routes:
        if route.method not in (method.upper(), "ANY"):
            continue
        if route.path == "$default":
            candidates.append(((3, 0, 0, 1), RouteMatch(route, {})))
            continue
        params = _match_path(route.path, segments)
        if params is not None:
            candidates.append((_specificity(route), RouteMatch(route, params)))
    if not candidates:
        return None
    return min(candidates, key=lambda item: item[0])[1]


def _specificity(route: RouteSpec) -> tuple[int, int, int, int]:
    parts = route.path.split("/")[1:]
    greedy = int(any(part.endswith("+}") for part in parts))
    variables = sum(part.startswith("{") for part in parts)
    return (1 + greedy, variables, -len(parts), int(route.method == "ANY"))


def _match_path(template_path: str, segments: list[str]) -> dict[str, str] | None:
    parts = template_path.split("/")[1:]
    params: dict[str, str] = {}
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if not rest or rest == [""]:
                return None
            params[part[1:-2]] = unquote("/".join(rest))
            return params
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            if not segments[index]:
                return None
            params[part[1:-1]] = unquote(segments[index])
        elif unquote(segments[index]) != part:
            return None
    return params if len(segments) == len(parts) else None


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


NOT_FOUND = {"message": "Not Found"}
INTERNAL_ERROR = {"message": "Internal Server Error"}
TOO_LARGE = {"message": "Request Entity Too Large"}


# ---------------------------------------------------------------- the server


class LocalGateway:
    """The HTTP server: template routes plus `/__local/health` and `/__local/invoke/{LogicalId}`.

    The socket is bound on construction (so the URL is known before the simulator starts) and served after
    `start()`; health answers 503 until `mark_ready()`.
    """

    def __init__(
        self,
        runtime: LocalLambdaRuntime,
        routes: list[RouteSpec],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        schedules: list[ScheduleSpec] | None = None,
        health_info: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.runtime = runtime
        self.routes = list(routes)
        self.schedules = list(schedules or [])
        self.health_info = health_info or dict
        self.ready = threading.Event()
        self._server = _Server((host, port), _RequestHandler)
        self._server.gateway = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="local-gateway", daemon=True
        )
        self._thread.start()

    def mark_ready(self) -> None:
        self.ready.set()

    def stop(self) -> None:
        self.ready.clear()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    # -- request handling (called from the handler threads)

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request; never raises."""
        request_id = new_request_id()
        path = urlsplit(request.target).path
        if path.startswith("/__local/"):
            response = self._local_endpoint(request, path)
        else:
            response = self._route(request, request_id)
        response.headers.append(("apigw-requestid", request_id))
        return response

    def _route(self, request: HttpRequest, request_id: str) -> HttpResponse:
        match = match_route(self.routes, request.method, urlsplit(request.target).path)
        if match is None:
            return json_response(404, NOT_FOUND)
        event = build_event(request, match, request_id=request_id)
        try:
            return to_http_response(self.runtime.invoke(match.route.function_id, event))
        except Exception:
            # The traceback goes to stderr; the event (body, headers) is never logged.
            log.exception("%s (%s) failed", match.route.route_key, match.route.function_id)
            return json_response(500, INTERNAL_ERROR)

    def _local_endpoint(self, request: HttpRequest, path: str) -> HttpResponse:
        if path == "/__local/health" and request.method == "GET":
            return self._health()
        prefix = "/__local/invoke/"
        if path.startswith(prefix) and request.method == "POST":
            return self._invoke(unquote(path[len(prefix) :]), request.body)
        return json_response(404, NOT_FOUND)

    def _health(self) -> HttpResponse:
        if not self.ready.is_set():
            return json_response(503, {"status": "starting"})
        return json_response(200, {"status": "ok", **self.health_info()})

    def _invoke(self, logical_id: str, body: bytes) -> HttpResponse:
        if logical_id not in self.runtime.functions:
            return json_response(404, {"message": f"no function {logical_id!r} in template.yaml"})
        if body.strip():
            try:
                event = json.loads(body)
            except ValueError:
                return json_response(400, {"message": "the body is not valid JSON"})
        else:
            schedule = next((s for s in self.schedules if s.function_id == logical_id), None)
            event = scheduled_event(logical_id, schedule)
        try:
            return json_response(200, self.runtime.invoke(logical_id, event))
        except UnknownFunction:
            return json_response(404, {"message": f"no function {logical_id!r} in template.yaml"})
        except HandlerLoadError as exc:
            log.exception("%s could not be loaded", logical_id)
            return json_response(500, {"errorType": type(exc).__name__, "errorMessage": str(exc)})
        except Exception as exc:
            log.exception("%s failed", logical_id)
            return json_response(500, {"errorType": type(exc).__name__, "message": "the function raised"})


class _Server(QuietThreadingHTTPServer):
    # A burst of concurrent callbacks must not overflow the listen backlog (default 5: 1 s SYN retransmits).
    request_queue_size = 256
    gateway: LocalGateway


class _RequestHandler(BaseHTTPRequestHandler):
    """Reads the request, lets the gateway answer, writes the response. HTTP/1.1 with keep-alive."""

    protocol_version = "HTTP/1.1"
    server_version = "local-apigw"
    sys_version = ""
    timeout = 30  # idle keep-alive connections must not pin a thread forever
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(json_response(400, {"message": "Bad Request"}))
            return
        if body is None:
            self.close_connection = True
            self._send(json_response(413, TOO_LARGE))
            return
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        response = self.server.gateway.handle(request)
        self._send(response)
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("%s %s -> %d (%.0f ms)", self.command, urlsplit(self.path).path, response.status, elapsed_ms)

    def _read_body(self) -> bytes | None:
        """The request body, or None when it exceeds API Gateway's 10 MB limit (ValueError: bad chunking)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_PAYLOAD_BYTES:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_PAYLOAD_BYTES:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib access log: it prints the full target, query string included."""
