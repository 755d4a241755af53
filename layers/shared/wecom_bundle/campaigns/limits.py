"""The sizes, timeouts and pacing every campaign module shares, and the few helpers built on them.

Why one module: create (chunking), send (lease, retries), repair (call timeout), cancel (retries) and the
reminders (retries) must agree on these numbers; kept apart from the services, no module of the domain has
to import another service just to read a constant.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from wecom_bundle import runtime

if TYPE_CHECKING:
    from wecom_bundle.wecom.client import WeComClient

CHUNK_SIZE = 10_000  # external_userid per add_msg_template call (page 004)
PART_SIZE = 5_000  # ids per DynamoDB item: 5 000 x <= 64 bytes stays far below the 400 KB item limit
# Longer than the slowest chunk (3 x (13 s call + backoff + 13 s list_v2 look) ~ 90 s): a live owner never
# loses its lease mid-call. It only delays the resumption of a crashed sender (the scheduler ticks every 30 min).
LEASE_S = 300
CALL_TIMEOUT = (3.05, 10.0)
CALL_ATTEMPTS = 3
BACKOFF_S = (0.5, 1.5, 3.0)
DUE_BATCH = 25

_sleep = time.sleep  # tests replace it to keep retries fast


class Unavailable(Exception):
    """WeCom kept failing transiently: stop now, the scheduled function resumes after the lease."""


def now() -> int:
    return int(time.time())


def wecom_client() -> WeComClient:
    return runtime.wecom_client()


def backoff(attempt: int) -> None:
    _sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)] * (0.8 + 0.4 * random.random()))  # noqa: S311


def without_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}
