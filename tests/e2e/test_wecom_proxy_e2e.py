"""WECOM_PROXY_URL end to end: with the local stack's functions set to a loopback forward proxy, every WeCom
call of a welcome, a campaign and a result sync goes through it, and no AWS call does (the stack's DynamoDB
and SQS are moto on loopback: their requests would show in the proxy's log if botocore had taken it).

The proxy is a real one (absolute-URI forwarding for http://, CONNECT tunnelling for https://), small enough
to read here: it logs each request's target and relays bytes."""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from local.http_server import QuietThreadingHTTPServer
from local.stack import StackHandle

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "te", "upgrade"}


class ForwardProxy:
    """A loopback HTTP proxy that records ``(method, target)`` of every request it relays."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                proxy.record(self.command, self.path)
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=30)
                path = target.path + (f"?{target.query}" if target.query else "")
                upstream.request(self.command, path or "/", body=body or None, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            def do_CONNECT(self) -> None:
                proxy.record("CONNECT", self.path)
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=30)
                self.send_response(200, "Connection established")
                self.end_headers()
                _tunnel(self.connection, upstream)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = QuietThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def record(self, method: str, target: str) -> None:
        with self._lock:
            self.seen.append((method, target))

    def targets(self) -> list[str]:
        with self._lock:
            return [target for _, target in self.seen]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _tunnel(client: socket.socket, upstream: socket.socket) -> None:
    """Relay bytes both ways until either side closes (CONNECT)."""
    sockets = [client, upstream]
    while True:
        readable, _, _ = select.select(sockets, [], [], 30)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (upstream if sock is client else client).sendall(data)


PROXY = ForwardProxy()  # started at import: the module's stack is configured with its URL
STACK_ENVIRON = {"WECOM_PROXY_URL": PROXY.url, "WELCOME_RULES_CACHE_SECONDS": "0"}


@pytest.fixture(scope="module")
def stack(local_stack: StackHandle) -> Iterator[StackHandle]:
    yield local_stack
    PROXY.stop()


def _sim(stack: StackHandle, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(method, f"{stack.simulator.url}/__sim/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def _wecom_calls(stack: StackHandle) -> list[dict[str, Any]]:
    return list(_sim(stack, "GET", "calls"))


def test_every_wecom_call_of_a_welcome_a_campaign_and_a_sync_goes_through_the_proxy(
    stack: StackHandle,
) -> None:
    _sim(stack, "POST", "reset")
    before = len(PROXY.targets())
    member, customer = f"px{RUN}", f"pxc{RUN}"
    rule = {"priority": 1, "match": {}, "text": {"content": "hi via proxy"}}
    assert requests.put(f"{stack.api_url}/admin/welcome-rules/px{RUN}", json=rule, timeout=30).ok

    # a welcome
    added = _sim(
        stack, "POST", "callbacks/add_external_contact", {"userid": member, "external_userid": customer}
    )
    assert added["delivered"], added
    deadline = time.monotonic() + 30
    while not _sim(stack, "GET", "welcomes") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [w["external_userid"] for w in _sim(stack, "GET", "welcomes")] == [customer]

    # a campaign
    created = requests.post(
        f"{stack.api_url}/admin/campaigns",
        json={"name": f"px-{RUN}", "external_userid": [customer], "text": {"content": "offer"}},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    (msgid,) = created.json()["msgids"]
    _sim(stack, "POST", f"groupmsg/{msgid}/send", {})

    # a sync pass (the scheduled fan-out, then the queue's worker)
    assert requests.post(f"{stack.api_url}/__local/invoke/ResultSyncFunction", timeout=120).status_code == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(c["path"].endswith("get_groupmsg_send_result") for c in _wecom_calls(stack)):
            break
        time.sleep(0.2)

    wecom = [c["path"] for c in _wecom_calls(stack)]
    through_proxy = [urlsplit(t).path for t in PROXY.targets()[before:]]
    assert {"/cgi-bin/externalcontact/send_welcome_msg", "/cgi-bin/externalcontact/add_msg_template"} <= set(
        wecom
    )
    assert any(p.endswith("get_groupmsg_send_result") for p in wecom)
    assert sorted(through_proxy) == sorted(wecom)  # every WeCom call, and nothing but WeCom calls
    simulator = urlsplit(stack.simulator.url).netloc
    assert all(urlsplit(t).netloc == simulator for t in PROXY.targets()[before:])
    aws = {urlsplit(stack.dynamodb_endpoint).netloc, urlsplit(stack.aws_services_endpoint or "").netloc}
    assert not aws & {urlsplit(t).netloc for t in PROXY.targets()}
