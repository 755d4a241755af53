"""A burst of add-contact callbacks through the local gateway, each delivered three times like WeCom's
retries, against the WeCom simulator on loopback: exactly once, latency, gettoken and DynamoDB round trips.

Method: ``start_stack`` (moto DynamoDB server, simulator, gateway, all on 127.0.0.1). 1 500 HTTP POSTs of 500
distinct events — each event three times back to back, so the copies race — go out on 32 keep-alive
connections. Each event is made when its first copy is about to be posted (welcome code issued by the
simulator, XML encrypted and signed with the dev keys), as WeCom pushes a callback the moment it issues the
code: a code issued for the whole burst up front would age by the burst's length before its turn, and a slow
machine would measure expired codes instead of the product.
Latency is from the first POST of an event to the simulator's receipt of ``send_welcome_msg``. DynamoDB round
trips are counted with a botocore hook on the layer's client; containers are warm after the first requests
(the gateway runs the handler in-process, like one warm Lambda serving concurrent requests).
"""

from __future__ import annotations

import collections
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from local.events import add_contact_fields, callback_post_event
from local.settings import DEV_DEFAULTS, apply_dev_defaults
from local.stack import start_stack
from local.wecom_sim.endpoints_welcome import issue_welcome_code

EVENTS, COPIES, CONNECTIONS = 500, 3, 32


class _Events:
    """Event ``i`` (its welcome code and signed POST), made on first use and shared by its copies."""

    def __init__(self, stack: Any) -> None:
        self._stack, self._env = stack, dict(DEV_DEFAULTS)
        self._made: dict[int, tuple[str, dict[str, Any]]] = {}
        self._locks: collections.defaultdict[int, threading.Lock] = collections.defaultdict(threading.Lock)

    def get(self, i: int) -> tuple[str, dict[str, Any]]:
        with self._locks[i]:
            if i not in self._made:
                self._made[i] = self._make(i)
            return self._made[i]

    def codes(self) -> set[str]:
        return {code for code, _ in self._made.values()}

    def _make(self, i: int) -> tuple[str, dict[str, Any]]:
        ext, user, create_time = f"wmBurst{i:05d}", f"member{i % 40:02d}", int(time.time())
        with self._stack.simulator.state.lock:
            code = issue_welcome_code(self._stack.simulator.state, user, ext, create_time)
        fields = add_contact_fields(
            self._env,
            userid=user,
            external_userid=ext,
            state=f"expo-{i % 7}",
            welcome_code=code,
            create_time=create_time,
        )
        return code, callback_post_event(self._env, fields)


def _count_dynamodb_calls() -> collections.Counter[str]:
    from wecom_bundle.dynamo.client import client

    counter: collections.Counter[str] = collections.Counter()
    client().meta.events.register("before-call.dynamodb", lambda model, **_: counter.update([model.name]))
    return counter


def run(events: int = EVENTS) -> dict[str, Any]:
    apply_dev_defaults()
    stack = start_stack(api_port=0)
    try:
        return _burst(stack, events)
    finally:
        stack.stop()


def _burst(stack: Any, events: int) -> dict[str, Any]:
    api = stack.api_url
    requests.put(
        f"{api}/admin/welcome-rules/expo",
        json={
            "priority": 5,
            "match": {"state_prefix": "expo-"},
            "text": {"content": "Welcome to our booth!"},
        },
        timeout=10,
    )
    dynamodb = _count_dynamodb_calls()
    made = _Events(stack)
    sent_at: dict[str, float] = {}
    statuses: collections.Counter[int] = collections.Counter()
    sessions: dict[int, requests.Session] = {}

    def post(i: int) -> None:
        code, event = made.get(i)
        session = sessions.setdefault(threading.get_ident(), requests.Session())
        sent_at.setdefault(code, time.time())
        answer = session.post(
            f"{api}/callback?{event['rawQueryString']}",
            data=event["body"].encode(),
            headers={"Content-Type": "text/xml"},
            timeout=30,
        )
        statuses[answer.status_code] += 1

    work = [i for i in range(events) for _ in range(COPIES)]
    dynamodb.clear()
    started = time.perf_counter()
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        list(pool.map(post, work))
    elapsed = time.perf_counter() - started
    delivered = stack.simulator.state.delivered_welcomes()
    per_code = collections.Counter(w["welcome_code"] for w in delivered)
    latencies = sorted(
        (w["at"] - sent_at[w["welcome_code"]]) * 1000 for w in delivered if w["welcome_code"] in sent_at
    )
    with stack.simulator.state.lock:
        sends = sum(1 for c in stack.simulator.state.calls if c.path.endswith("send_welcome_msg"))
        gettoken = stack.simulator.state.gettoken_calls
    codes = made.codes()
    return {
        "events": events,
        "requests": len(work),
        "connections": CONNECTIONS,
        "seconds": elapsed,
        "requests_per_s": len(work) / elapsed,
        "http_statuses": dict(statuses),
        "welcomes_delivered": sum(per_code[c] for c in codes),
        "events_delivered_exactly_once": sum(1 for c in codes if per_code[c] == 1),
        "send_welcome_msg_calls": sends,
        "gettoken_calls": gettoken,
        "latency_ms_p50": statistics.median(latencies) if latencies else None,
        "latency_ms_p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
        "dynamodb_calls": dict(dynamodb),
        "dynamodb_calls_per_welcome": sum(dynamodb.values()) / events,
    }
