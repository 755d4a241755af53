"""Shared pieces of the ``/__sim/`` control API: its context, its error, JSON in and out.

The control API is for tests and the demo, not a WeCom imitation: errors are ``{"error": "..."}`` with a 4xx
status, so a broken test setup fails loudly instead of looking like a WeCom errcode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .callbacks import CallbackPusher
from .http_types import Request, Response, json_response
from .state import SimulatorState


@dataclass(frozen=True)
class ControlContext:
    state: SimulatorState
    pusher: CallbackPusher


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


ControlHandler = Callable[[ControlContext, Request, dict[str, str]], Response]


def body_of(req: Request) -> dict[str, Any]:
    """The JSON object body ({} when empty); 400 otherwise."""
    try:
        body = req.parsed_json()
    except (ValueError, UnicodeDecodeError):
        raise ControlError(400, "body is not valid JSON") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def required_str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not value or not isinstance(value, str):
        raise ControlError(400, f"{key} (non-empty string) is required")
    return value


def optional_number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ControlError(400, f"{key} must be a non-negative number")
    return float(value)


def optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(400, f"{key} must be an integer (unix seconds)")
    return value


def string_list(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ControlError(400, f"{key} must be a list of non-empty strings")
    return value


def reply(payload: Any, status: int = 200) -> Response:
    return json_response(payload, status)
