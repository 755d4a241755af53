"""The request and response values passed between the HTTP plumbing and the endpoint functions.

Why not hand handlers the ``BaseHTTPRequestHandler``: endpoint code then stays pure (state + request in, JSON
out), which keeps it short and lets the dispatcher log, fault-inject and time every call in one place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import WeComError

if TYPE_CHECKING:
    from .state import SimulatorState

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    client_ip: str = "127.0.0.1"  # the TCP peer: what WeCom's trusted-IP rule (60020) looks at

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "") or ""

    def parsed_json(self) -> Any:
        """The body as JSON, or None when empty; raises ValueError when it is not JSON."""
        if not self.body.strip():
            return None
        return json.loads(self.body.decode("utf-8"))

    def wecom_json(self) -> dict[str, Any]:
        """The JSON object a WeCom POST API expects; WeCom answers 40058 for a body it cannot parse."""
        try:
            body = self.parsed_json()
        except (ValueError, UnicodeDecodeError):
            raise WeComError(errors.INVALID_PARAMETER, "Warning: wrong json format.") from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise WeComError(errors.INVALID_PARAMETER, "Warning: wrong json format.")
        return body


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = JSON_TYPE
    errcode: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(payload: Any, status: int = 200) -> Response:
    """Serialize ``payload``; remember its errcode so the call log need not parse it back."""
    errcode = payload.get("errcode") if isinstance(payload, dict) else None
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status=status, body=body, errcode=errcode if isinstance(errcode, int) else None)


def text_response(text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status=status, body=text.encode("utf-8"), content_type=content_type)


Handler = Callable[["SimulatorState", Request], dict[str, Any]]
GET = frozenset({"GET"})
POST = frozenset({"POST"})


@dataclass(frozen=True)
class ApiRoute:
    """One ``/cgi-bin/<path>`` API: the methods WeCom accepts for it and the function that answers it."""

    methods: frozenset[str]
    handler: Handler
    needs_token: bool = True
