"""The stdlib threading HTTP server, minus its habit of printing tracebacks for clients that hung up.

Why: ``socketserver.BaseServer.handle_error`` prints a full traceback to stderr for any exception a request
handler raises, including a ``BrokenPipeError`` when the client stopped waiting (a timeout test, a retrying
HTTP client, a browser closing a keep-alive connection). That is normal on a server and the noise hid the one
line that mattered in test output. A client that went away is logged at debug; anything else is a real bug
and is logged with its stack through ``logging`` (so the test runner shows it with the failing test).
"""

from __future__ import annotations

import logging
import sys
from http.server import ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

# What a peer that closed its end looks like from the server side.
CLIENT_GONE: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


class QuietThreadingHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` whose request threads never print a traceback for a departed client."""

    daemon_threads = True

    def handle_error(self, _request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, CLIENT_GONE):
            log.debug("client %s went away: %s", client_address, type(error).__name__)
            return
        log.error("request from %s failed", client_address, exc_info=True)
