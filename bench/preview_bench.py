"""Campaign preview of 100 000 customers through the local stack on DynamoDB Local, idle and under load.

Why this bench: ``POST /admin/campaigns/preview`` reads each customer's cap counters (the quota items of the
current period's months, the pending items of the sync window's months, and the registry state of every
pending msgid), and API Gateway gives the admin function 29 s. The figure that matters is the wall time of
the whole request over HTTP, with 10 % of the audience capped and 1 % pending, first on an idle machine and
then with a CPU hog busy on every other core (the machine shared with other work).

Method: ``start_stack(dynamodb="local")``; the counter items are written straight into the table with the
layer's key builders (what the result sync's tally writes); three previews are timed with
``time.perf_counter`` around ``requests.post`` and the median is reported; the loaded run starts one
``python -c 'while True: pass'`` process per other core for its duration.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from local.stack import StackHandle, start_stack

AUDIENCE = 100_000
CAPPED_EVERY = 10  # every 10th customer received today's message: capped in day mode
PENDING_EVERY = 100  # every 100th has an unsent row of a running task
RUNS = 3
TARGET_S = 8.0
LOADED_TARGET_S = 20.0  # well inside API Gateway's 29 s (the preview's own budget is 15 s)


def _ids() -> list[str]:
    return [f"wmBench{i:06d}" for i in range(AUDIENCE)]


def _seed(ids: list[str]) -> None:
    """Counter items as the result sync leaves them: today's received set, and a pending entry."""
    from wecom_bundle.customers.tally import pending_entry, row_token, utc_month
    from wecom_bundle.dynamo.client import client
    from wecom_bundle.dynamo.codec import encode_item
    from wecom_bundle.dynamo.keys import (
        CUSTOMER_PENDING_ATTRIBUTE,
        customer_day_attribute,
        customer_pending_key,
        customer_quota_key,
        msgid_key,
    )
    from wecom_bundle.dynamo.table import table_name

    now = int(time.time())
    today = datetime.fromtimestamp(now, ZoneInfo(os.environ.get("WELCOME_TIMEZONE") or "Asia/Shanghai"))
    received = customer_day_attribute("s", today.date().isoformat())
    month = today.strftime("%Y-%m")
    items = [
        _with_set(customer_quota_key(ext, month), received, row_token("msgBenchSent", "u1"))
        for ext in ids[::CAPPED_EVERY]
    ]
    utc = utc_month(now)
    running = pending_entry(row_token("msgBenchRun", "u1"), "msgBenchRun")
    items += [
        _with_set(customer_pending_key(ext, utc), CUSTOMER_PENDING_ATTRIBUTE, running)
        for ext in ids[::PENDING_EVERY]
    ]
    items.append(encode_item({**msgid_key("msgBenchRun"), "msgid": "msgBenchRun", "sync_state": "active"}))
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        while batch:
            answer = client().batch_write_item(RequestItems={table_name(): batch})
            batch = answer.get("UnprocessedItems", {}).get(table_name(), [])


def _with_set(key: dict[str, str], attribute: str, element: str) -> dict[str, Any]:
    """An encoded item with one string set (the counters are sets: DynamoDB's SS)."""
    return {**{k: {"S": v} for k, v in key.items()}, attribute: {"SS": [element]}}


@contextmanager
def _cpu_hogs() -> Any:
    """One busy-looping process per other core, for the block."""
    count = max(1, (os.cpu_count() or 2) - 1)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield count
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _preview(stack: StackHandle, ids: list[str]) -> tuple[float, int, dict[str, Any]]:
    """(seconds, status, answer): 200 with the counts, or 503 ``over_time_budget`` when it ran out."""
    body = {"name": "bench", "external_userid": ids, "text": {"content": "hello"}}
    started = time.perf_counter()
    answer = requests.post(f"{stack.api_url}/admin/campaigns/preview", json=body, timeout=120)
    elapsed = time.perf_counter() - started
    if answer.status_code not in (200, 503):
        raise RuntimeError(f"preview answered {answer.status_code}: {answer.text[:300]}")
    return elapsed, answer.status_code, answer.json()


def _timed(stack: StackHandle, ids: list[str]) -> tuple[float, list[int], dict[str, Any]]:
    runs = [_preview(stack, ids) for _ in range(RUNS)]
    return round(statistics.median(t for t, _, _ in runs), 2), [s for _, s, _ in runs], runs[-1][2]


def run() -> dict[str, Any]:
    stack = start_stack(api_port=0, dynamodb="local", environ={"MASS_SEND_CUSTOMER_LIMIT": "day"})
    try:
        ids = _ids()
        _seed(ids)
        _preview(stack, ids[:1000])  # warm: the admin function's container and DynamoDB Local's JIT
        idle, idle_statuses, answer = _timed(stack, ids)
        with _cpu_hogs() as hogs:
            loaded, loaded_statuses, _ = _timed(stack, ids)
    finally:
        stack.stop()
    quota = answer.get("quota") or {}
    return {
        "preview_ids": AUDIENCE,
        "preview_s_p50": idle,
        "preview_statuses": idle_statuses,
        "preview_loaded_s_p50": loaded,
        "preview_loaded_statuses": loaded_statuses,
        "preview_cpu_hogs": hogs,
        "preview_counts_exact": quota.get("capped") == AUDIENCE // CAPPED_EVERY
        and quota.get("pending") == AUDIENCE // PENDING_EVERY,
    }


if __name__ == "__main__":
    print(run())
