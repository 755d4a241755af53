"""The sizes, timeouts and pacing every campaign module shares, and the few helpers built on them.

Why one module: create (chunking), send (lease, retries), repair (call timeout), cancel (retries) and the
reminders (retries) must agree on these numbers; kept apart from the services, no module of the domain has
to import another service just to read a constant. Sizes a test wants smaller (chunk, part) and the sleep
between retries are fields of ``deps.CampaignDeps``; these are their defaults.
"""

from __future__ import annotations

from typing import Any

CHUNK_SIZE = 10_000  # external_userid per add_msg_template call (WeCom「创建企业群发」)
PART_SIZE = 5_000  # ids per DynamoDB item: 5 000 x <= 64 bytes stays far below the 400 KB item limit
# Longer than the slowest chunk (3 x (13 s call + backoff + 13 s list_v2 look) ~ 90 s): a live owner never
# loses its lease mid-call. It only delays the resumption of a crashed sender (the scheduler ticks every 30 min).
LEASE_S = 300
CALL_TIMEOUT = (3.05, 10.0)
CALL_ATTEMPTS = 3
BACKOFF_S = (0.5, 1.5, 3.0)
DUE_BATCH = 25
# A preview's reads stop after this long: API Gateway answers 503 on its own after 29 s (its integration
# timeout), so a preview that cannot finish says so itself, with time to spare for reading the request
# (a 100 000-id body takes seconds to parse and validate on a busy machine) and for the answer.
PREVIEW_BUDGET_S = 15.0


class Unavailable(Exception):
    """WeCom kept failing transiently: stop now, the scheduled function resumes after the lease."""


def without_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}
