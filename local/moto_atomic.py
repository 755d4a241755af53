"""Make moto apply each DynamoDB request atomically, as DynamoDB does.

Why: moto handles requests on the caller's thread (in-process ``mock_aws``) or on one thread per connection
(its server) with no lock around the backend. Two conditional writes racing on one item can then both read
"no lease yet" and both succeed, which real DynamoDB never allows. The product's exactly-once guarantees
(welcome claims, upload and token leases, campaign idempotency) rest on that atomicity, so a test racing
threads against moto could fail for moto's sake: a media-upload race did, about one run in five.

Only DynamoDB requests are serialised. SQS long polls and S3 transfers stay concurrent: holding one lock
across a 20 s ``ReceiveMessage`` would stall every other call.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.RLock()
_installed = False
DYNAMODB_TARGET_PREFIX = "DynamoDB_"  # X-Amz-Target of every DynamoDB JSON-protocol call


def _is_dynamodb(target: str | bytes | None) -> bool:
    if isinstance(target, bytes):
        target = target.decode("ascii", "replace")
    return bool(target) and str(target).startswith(DYNAMODB_TARGET_PREFIX)


def install() -> None:
    """Patch moto's two entry points once per process (idempotent, safe to call from every fixture)."""
    global _installed
    with _lock:
        if _installed:
            return
        _patch_in_process()
        _patch_server()
        _installed = True


def _patch_in_process() -> None:
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request

    @functools.wraps(original)
    def process_request(self: Any, request: Any) -> Any:
        if not _is_dynamodb(request.headers.get("X-Amz-Target")):
            return original(self, request)
        with _lock:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]


def _patch_server() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    @functools.wraps(original)
    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if not _is_dynamodb(environ.get("HTTP_X_AMZ_TARGET")):
            return original(self, environ, start_response)
        with _lock:
            # Flask builds the whole (non-streamed) answer inside the call: the backend's work is covered.
            return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]
