"""The call log behind ``GET /__sim/calls``: what the product sent, minus its secrets.

Redaction rules: ``corpsecret`` is never stored, ``access_token`` is stored as ``***`` (a test may assert
that one was sent, never what it was), uploaded files are reduced to name/size/type.
"""

from __future__ import annotations

import time
from typing import Any

from .http_types import Request, Response
from .models import CallRecord
from .multipart import parse_files
from .state import SimulatorState

REDACTED = "***"
_DROPPED_PARAMS = frozenset({"corpsecret"})
_MASKED_PARAMS = frozenset({"access_token"})


def redacted_query(query: dict[str, str]) -> dict[str, str]:
    return {
        key: (REDACTED if key in _MASKED_PARAMS else value)
        for key, value in query.items()
        if key not in _DROPPED_PARAMS
    }


def logged_body(req: Request) -> Any:
    """Parsed JSON, a summary of uploaded files, or None."""
    files = parse_files(req.content_type, req.body)
    if files:
        return {
            name: {"filename": f.filename, "size": len(f.data), "content_type": f.content_type}
            for name, f in files.items()
        }
    try:
        return req.parsed_json()
    except (ValueError, UnicodeDecodeError):
        return {"unparsed_bytes": len(req.body)}


def record(state: SimulatorState, req: Request, response: Response, at: float, started: float) -> None:
    state.record_call(
        CallRecord(
            method=req.method,
            path=req.path,
            query=redacted_query(req.query),
            body=logged_body(req),
            errcode=response.errcode,
            http_status=response.status,
            at=at,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
    )


def calls(state: SimulatorState, path_suffix: str = "", limit: int | None = None) -> list[dict[str, Any]]:
    """Logged calls, oldest first, whose path ends with ``path_suffix``."""
    with state.lock:
        rows = [c.as_dict() for c in state.calls if c.path.endswith(path_suffix)]
    return rows[-limit:] if limit else rows
