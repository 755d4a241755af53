"""HTTP plumbing: a threaded loopback server that routes ``/cgi-bin/`` to the WeCom APIs and ``/__sim/`` to
the control API, and the public ``start_simulator`` / ``SimulatorHandle`` entry points.

Why stdlib ``ThreadingHTTPServer``: no dependency, real sockets (the product's real HTTP client, timeouts and
connection pooling are exercised), one thread per connection so a deliberately slow answer (a delay fault)
never blocks other calls. HTTP/1.1 keep-alive is on, like WeCom's front end.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from local.http_server import QuietThreadingHTTPServer

from .callbacks import CallbackPusher
from .config import SimulatorConfig
from .control import CONTROL_PREFIX, handle_control
from .control_common import ControlContext
from .dispatch import API_PREFIX, handle_api
from .http_types import Request, Response, json_response, text_response
from .state import SimulatorState

__all__ = ["SimulatorConfig", "SimulatorHandle", "SimulatorState", "start_simulator"]

logger = logging.getLogger(__name__)
MAX_BODY = 64 * 1024 * 1024  # above WeCom's largest upload (20 MB file) with room for multipart overhead


class _Server(QuietThreadingHTTPServer):
    # WeCom-like bursts open dozens of connections at once; the default backlog of 5 drops SYNs and costs
    # the client a 1 s TCP retransmit.
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ctx: ControlContext) -> None:
        super().__init__(address, _Handler)
        self.ctx = ctx


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WeComSimulator/1.0"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients stall ~40 ms on each answer.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            self._write(text_response("request body too large or malformed", 413))
            self.close_connection = True
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=self.headers,
            body=body,
            client_ip=str(self.client_address[0]),
        )
        self._write(_route(self.server.ctx, request))

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if 0 <= length <= MAX_BODY else None

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, response: Response) -> None:
        # The client may have given up waiting (a timeout test, or a slow-answer fault): nothing to tell it.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.ctx.state.config.verbose:
            super().log_message(format, *args)


def _route(ctx: ControlContext, request: Request) -> Response:
    """Route by prefix; a simulator bug becomes a visible 500 with its reason, not a dropped connection."""
    try:
        if request.path.startswith(API_PREFIX):
            return handle_api(ctx.state, request)
        if request.path.startswith(CONTROL_PREFIX):
            return handle_control(ctx, request)
    except Exception as exc:
        logger.exception("WeCom simulator failed on %s %s", request.method, request.path)
        return json_response({"error": f"simulator error: {type(exc).__name__}: {exc}"}, 500)
    return text_response("not found: WeCom APIs live under /cgi-bin/, the control API under /__sim/", 404)


@dataclass
class SimulatorHandle:
    """A running simulator. ``url`` is what ``WECOM_API_BASE`` is set to; ``state`` is in-process access."""

    url: str
    state: SimulatorState
    _server: _Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_simulator(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> SimulatorHandle:
    """Bind (port 0 = any free port) and serve in a daemon thread; returns once the socket accepts."""
    state = SimulatorState(config)
    ctx = ControlContext(state=state, pusher=CallbackPusher(config))
    server = _Server((host, port), ctx)
    bound_host, bound_port = server.server_address[:2]
    url_host = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
    state.base_url = f"http://{url_host}:{bound_port}"
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"wecom-sim-{bound_port}",
        daemon=True,
    )
    thread.start()
    return SimulatorHandle(url=state.base_url, state=state, _server=server, _thread=thread)
