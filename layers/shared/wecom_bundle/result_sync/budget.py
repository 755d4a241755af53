"""A scheduled run's time budget, and how WeCom calls back off inside it.

Why one object: the result sync must stop *before* Lambda's timeout with its checkpoint written, and it must
back off on WeCom's rate limits (45009 frequency, 45033 concurrency), 5xx and network faults without
sleeping past that point. Both questions are "how much time is left", so both live here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from wecom_bundle.wecom.errors import TransportError, WeComError

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 20.0


class OutOfTime(Exception):
    """The budget ends before the next step could finish: checkpoint and continue in a new invocation."""


class Budget:
    """Monotonic deadline plus a counter of WeCom calls made (reported by runs and ``make bench``)."""

    def __init__(
        self,
        seconds: float,
        *,
        reserve_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock  # monotonic seconds
        self.sleep = sleep  # between retries
        self.deadline = clock() + seconds
        self.reserve_s = reserve_s  # what one more WeCom page needs at worst (timeouts included)
        self.calls = 0
        self.backoffs = 0

    def left(self) -> float:
        return self.deadline - self.clock()

    def check(self) -> None:
        """Raise OutOfTime unless one more step fits."""
        if self.left() < self.reserve_s:
            raise OutOfTime

    def call(self, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run one WeCom call, retrying retryable faults with exponential backoff and jitter while the
        budget allows; a definite refusal (any other errcode) is raised at once."""
        attempt = 0
        while True:
            self.check()
            self.calls += 1
            try:
                return fetch()
            except (TransportError, WeComError) as exc:
                if not exc.retryable:
                    raise
                pause = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt) * (0.5 + random.random())  # noqa: S311
                if self.left() - pause < self.reserve_s:
                    raise OutOfTime from exc
                self.backoffs += 1
                attempt += 1
                self.sleep(pause)
