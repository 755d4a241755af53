"""The simulator clock: real time plus an offset that tests move forward.

Why an offset and not a frozen clock: the product runs real timers (HTTP timeouts, retries) against the
simulator, so time must keep flowing; tests only need to jump ahead (token expiry, a 20 s welcome code, a
3-day media id, a 24 h reminder window) without waiting.
"""

from __future__ import annotations

import threading
import time


class SimClock:
    """Thread-safe ``now()`` = ``time.time() + offset``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward (never backward: time-based state assumes monotonic time)."""
        if seconds < 0:
            raise ValueError("the simulator clock only moves forward")
        with self._lock:
            self._offset += seconds
            return time.time() + self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
