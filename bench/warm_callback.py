"""Warm per-request cost of the callback: signature check + AES decrypt + hardened XML parse, and the whole
GET verification through the handler. In-process loops after a warm-up; percentiles of single calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from local.events import add_contact_fields, callback_get_event, callback_post_event
from local.settings import DEV_DEFAULTS
from wecom_bundle.callback.service import CallbackRequest, open_event, parse_query, verify_url


def _percentiles(fn: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(200):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def measure(n: int = 5000) -> dict[str, float]:
    env = dict(DEV_DEFAULTS)
    post = callback_post_event(env, add_contact_fields(env))
    request = CallbackRequest(parse_query(post["rawQueryString"]), post["body"].encode())
    get = callback_get_event(env)
    get_query = parse_query(get["rawQueryString"])
    open_p50, open_p99 = _percentiles(lambda: open_event(request), n)
    get_p50, get_p99 = _percentiles(lambda: verify_url(get_query), n)
    return {
        "requests": n,
        "post_verify_decrypt_parse_us_p50": open_p50,
        "post_verify_decrypt_parse_us_p99": open_p99,
        "get_verify_us_p50": get_p50,
        "get_verify_us_p99": get_p99,
    }
