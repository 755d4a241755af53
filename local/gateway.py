"""A local stand-in for the API Gateway HTTP API: template routes → payload 2.0 events → in-process handlers.

Why mimic API Gateway this closely (event fields, 404 for unmatched routes, 413 above 10 MB, 500 for a raised
handler, the no-statusCode shortcut): handlers are tested here and then deployed unchanged, so every
difference would be a bug that only shows up in AWS. This module is the server (sockets, bodies, the
gateway's own answers); route selection is `local.apigw_routes`, the event and response mapping
`local.apigw_payload`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from local.apigw_payload import (
    HttpRequest,
    HttpResponse,
    build_event,
    json_response,
    new_request_id,
    to_http_response,
)
from local.apigw_routes import match_route
from local.http_server import QuietThreadingHTTPServer
from local.lambda_runtime import HandlerLoadError, LocalLambdaRuntime, UnknownFunction
from local.scheduler import scheduled_event
from local.template import RouteSpec, ScheduleSpec

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit

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

    def __getattr__(self, name: str) -> Callable[[], None]:
        """Every other method (``TRACE``, ``PROPFIND``, ``FOO``) is served like the rest: API Gateway answers
        an unmatched route or method with its JSON 404, where the stdlib would send a 501 HTML page for a
        method without a ``do_`` handler."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

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
