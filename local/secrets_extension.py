"""A local stand-in for the AWS Parameters and Secrets Lambda Extension's HTTP endpoint (Secrets Manager part).

Why: deployed, the callback reads its secret from the extension on localhost (no SDK import on its path); the
bench and the tests need the same endpoint to measure and exercise that path. Like the real extension, it
answers ``GET /secretsmanager/get?secretId=...`` with GetSecretValue's JSON, only for a caller presenting the
session token in ``X-Aws-Parameters-Secrets-Token``, and it calls Secrets Manager itself with a client created
before the first request (the real extension initialises in parallel with the function's runtime). It does not
cache (the template runs the real one with its cache off: the layer keeps its own, with its own max age).
Its upstream is whatever ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` names, e.g. a moto server.
"""

from __future__ import annotations

import hmac
import json
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PATH = "/secretsmanager/get"


@dataclass
class SecretsExtensionHandle:
    """The running stand-in: its port (for ``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``) and how to stop it."""

    port: int
    server: ThreadingHTTPServer
    requests: list[str]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_secrets_extension(client: Any, session_token: str) -> SecretsExtensionHandle:
    """Serve on a free loopback port in a daemon thread; ``client`` is a Secrets Manager client (boto3 or
    botocore) pointed at the upstream."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            secret_id = (parse_qs(url.query).get("secretId") or [""])[0]
            if url.path != PATH or not secret_id:
                self._answer(HTTPStatus.BAD_REQUEST, {"error": "expected GET /secretsmanager/get?secretId="})
                return
            given = self.headers.get("X-Aws-Parameters-Secrets-Token", "")
            if not hmac.compare_digest(given.encode(), session_token.encode()):
                self._answer(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong session token"})
                return
            seen.append(secret_id)
            try:
                answer = client.get_secret_value(SecretId=secret_id)
            except Exception as exc:  # the upstream's error class is generated per client
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "error")
                self._answer(HTTPStatus.BAD_REQUEST, {"error": code})
                return
            answer.pop("ResponseMetadata", None)
            self._answer(HTTPStatus.OK, answer)

        def _answer(self, status: HTTPStatus, doc: dict[str, Any]) -> None:
            body = json.dumps(doc, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, _format: str, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="secrets-extension", daemon=True).start()
    return SecretsExtensionHandle(server.server_address[1], server, seen)
