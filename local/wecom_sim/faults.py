"""Injected faults: the next N matching API calls answer an errcode, an HTTP error, or answer late.

Why: the product must survive 41096, 45009, 45033, -1, 5xx and slow answers; a test arms exactly the fault it
needs and the simulator spends it, so nothing leaks into the next test.
"""

from __future__ import annotations

import time
from typing import Any

from .errors import error_body
from .http_types import Response, json_response, text_response
from .models import Fault
from .state import SimulatorState

MAX_DELAY_MS = 120_000


def parse_fault(spec: dict[str, Any]) -> Fault:
    """Build a fault from the control API body; raises ValueError with a readable reason."""
    path = spec.get("path", "")
    times = spec.get("times", 1)
    errcode, http_status, delay_ms = spec.get("errcode"), spec.get("http_status"), spec.get("delay_ms", 0)
    if not isinstance(path, str):
        raise ValueError("path must be a string (suffix of the API path, '' or '*' for all)")
    if not isinstance(times, int) or times < 1:
        raise ValueError("times must be a positive integer")
    if errcode is not None and not isinstance(errcode, int):
        raise ValueError("errcode must be an integer")
    if http_status is not None and (not isinstance(http_status, int) or not 400 <= http_status <= 599):
        raise ValueError("http_status must be 400..599")
    if not isinstance(delay_ms, int) or not 0 <= delay_ms <= MAX_DELAY_MS:
        raise ValueError(f"delay_ms must be 0..{MAX_DELAY_MS}")
    if errcode is None and http_status is None and not delay_ms:
        raise ValueError("give errcode, http_status or delay_ms")
    errmsg = spec.get("errmsg")
    return Fault(path, times, errcode, errmsg if isinstance(errmsg, str) else None, http_status, delay_ms)


def add(state: SimulatorState, fault: Fault) -> None:
    with state.lock:
        state.faults.append(fault)


def clear(state: SimulatorState) -> int:
    with state.lock:
        count = len(state.faults)
        state.faults.clear()
        return count


def take(state: SimulatorState, api: str) -> Fault | None:
    """Spend one use of the first fault matching ``api`` (oldest first)."""
    with state.lock:
        for fault in state.faults:
            if fault.matches(api):
                fault.times -= 1
                if fault.times <= 0:
                    state.faults.remove(fault)
                return fault
    return None


def apply(fault: Fault) -> Response | None:
    """Sleep the delay (outside the state lock), then answer the fault, or None to serve normally."""
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    if fault.http_status is not None:
        page = f"<html><body><h1>{fault.http_status}</h1>injected by the WeCom simulator</body></html>"
        return text_response(page, status=fault.http_status, content_type="text/html; charset=utf-8")
    if fault.errcode is not None:
        return json_response(error_body(fault.errcode, fault.errmsg or "injected fault"))
    return None
