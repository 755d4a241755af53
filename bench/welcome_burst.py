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

Channels: two more bursts, on DynamoDB Local (``start_stack(dynamodb="local")``), because moto's
TransactWriteItems deep-copies the whole table for its rollback, under the lock that keeps moto atomic: on
moto every arrival transaction stalls every other request (a burst with channels took 75-105 s there instead
of 12 s), a property of moto, not of DynamoDB. First the same rules-only burst (keys ``channel_baseline_``:
the backend's own figures without channels), then the channel burst (keys ``channel_burst_``), whose events
are three interleaved groups sharing the machine's load: ``rules`` (States ``expo-N``, no channel: a welcome
rule), ``channel`` (State ``bench-plain``: the channel's welcome, no tags) and ``channel_tags`` (State
``bench-tagged``: the channel's welcome, then its tags with ``mark_tag``). Every customer is a friend of its
member in the simulator. Reported per group: the welcome latency (above) and the callback's answer time (the
slowest copy of each event: the one that did the work); tagging runs after the welcome, so it may lengthen
the answer, never the welcome. Checked: the channels' counters (``runtime.channel_stats_reader()``) equal
what was sent, once each, and every ``mark_tag`` came after its customer's ``send_welcome_msg`` in the
simulator's call log. The channel items are written as the admin API stores them. DynamoDB:
``dynamodb_calls_per_welcome`` counts the welcome's own round trips (claim, outcome, channel reads) and
leaves out the arrival transactions that follow the welcome, reported per channel event.
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
from local.wecom_sim.models import Customer
from tests.support import put_channel_record

EVENTS, COPIES, CONNECTIONS = 500, 3, 32
RULES_ONLY = ("rules",)
GROUPS = ("rules", "channel", "channel_tags")  # the channel burst: event i is in GROUPS[i % 3]
CHANNELS = {"channel": "bench-plain", "channel_tags": "bench-tagged"}
BENCH_TAGS = ["etTagExpo", "etTagLead"]
LOOKUP_SAMPLES = 20_000


def _group(i: int, groups: tuple[str, ...]) -> str:
    return groups[i % len(groups)]


def _state(i: int, groups: tuple[str, ...]) -> str:
    return CHANNELS.get(_group(i, groups)) or f"expo-{i % 7}"


class _Events:
    """Event ``i`` (its welcome code and signed POST), made on first use and shared by its copies."""

    def __init__(self, stack: Any, groups: tuple[str, ...]) -> None:
        self._stack, self._env, self.groups = stack, dict(DEV_DEFAULTS), groups
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
        sim = self._stack.simulator.state
        with sim.lock:
            sim.ensure_member(user)
            sim.customers[ext] = Customer(ext, ext, owner=user)  # a friend: mark_tag accepts it
            code = issue_welcome_code(sim, user, ext, create_time)
        fields = add_contact_fields(
            self._env,
            userid=user,
            external_userid=ext,
            state=_state(i, self.groups),
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
    """The burst as measured before channels (rules only, moto), then on DynamoDB Local the same rules-only
    burst (``channel_baseline_``: the backend's own figures) and the channel burst (``channel_burst_``)."""
    apply_dev_defaults()
    results = _on_stack("moto", events, RULES_ONLY)
    baseline = _on_stack("local", events, RULES_ONLY)
    results.update({f"channel_baseline_{key}": value for key, value in baseline.items()})
    with_channels = _on_stack("local", events, GROUPS)
    checks = (
        "channel_counts_exact",
        "mark_tag_after_its_welcome",
        "channel_lookup_warm_us",
        "channel_totals",
    )
    for key, value in with_channels.items():
        results[key if key in checks else f"channel_burst_{key}"] = value
    return results


def _on_stack(dynamodb: str, events: int, groups: tuple[str, ...]) -> dict[str, Any]:
    stack = start_stack(api_port=0, dynamodb=dynamodb)
    try:
        return _burst(stack, events, groups)
    finally:
        stack.stop()


def _burst(stack: Any, events: int, groups: tuple[str, ...]) -> dict[str, Any]:
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
    welcome = {"text": {"content": "Welcome from the channel!"}, "attachments": []}
    put_channel_record(CHANNELS["channel"], welcome=welcome)
    put_channel_record(CHANNELS["channel_tags"], welcome=welcome, tags=BENCH_TAGS)
    dynamodb = _count_dynamodb_calls()
    made = _Events(stack, groups)
    sent_at: dict[str, float] = {}
    statuses: collections.Counter[int] = collections.Counter()
    sessions: dict[int, requests.Session] = {}
    answered_ms: collections.defaultdict[int, list[float]] = collections.defaultdict(list)

    def post(i: int) -> None:
        code, event = made.get(i)
        session = sessions.setdefault(threading.get_ident(), requests.Session())
        sent_at.setdefault(code, time.time())
        started = time.perf_counter()
        answer = session.post(
            f"{api}/callback?{event['rawQueryString']}",
            data=event["body"].encode(),
            headers={"Content-Type": "text/xml"},
            timeout=30,
        )
        answered_ms[i].append((time.perf_counter() - started) * 1000)
        statuses[answer.status_code] += 1

    work = [i for i in range(events) for _ in range(COPIES)]
    dynamodb.clear()
    started = time.perf_counter()
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        list(pool.map(post, work))
    elapsed = time.perf_counter() - started
    delivered = stack.simulator.state.delivered_welcomes()
    per_code = collections.Counter(w["welcome_code"] for w in delivered)
    welcome_ms = {
        w["welcome_code"]: (w["at"] - sent_at[w["welcome_code"]]) * 1000
        for w in delivered
        if w["welcome_code"] in sent_at
    }
    latencies = sorted(welcome_ms.values())
    with stack.simulator.state.lock:
        sends = sum(1 for c in stack.simulator.state.calls if c.path.endswith("send_welcome_msg"))
        gettoken = stack.simulator.state.gettoken_calls
    codes = made.codes()
    transactions = dynamodb.pop("TransactWriteItems", 0)
    channel_events = sum(1 for i in range(events) if _group(i, groups) != "rules")
    result = {
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
    if groups == RULES_ONLY:
        return result
    return {
        **result,
        "dynamodb": stack.dynamodb_mode,
        "channel_transactions_per_channel_event": transactions / max(channel_events, 1),
        **_by_group(events, made, welcome_ms, answered_ms),
        **_channel_checks(stack, events, groups),
        "channel_lookup_warm_us": _warm_lookup_us(),
    }


def _p(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[max(int(len(ordered) * q) - 1, 0)] if ordered else None


def _by_group(
    events: int, made: _Events, welcome_ms: dict[str, float], answered_ms: dict[int, list[float]]
) -> dict[str, Any]:
    """Welcome latency and the callback's answer time (slowest copy of each event), per group."""
    out: dict[str, Any] = {}
    for group in made.groups:
        members = [i for i in range(events) if _group(i, made.groups) == group]
        welcomes = [welcome_ms[made.get(i)[0]] for i in members if made.get(i)[0] in welcome_ms]
        answers = [max(answered_ms[i]) for i in members if answered_ms.get(i)]
        out[f"latency_ms_p50_{group}"] = _p(welcomes, 0.5)
        out[f"latency_ms_p99_{group}"] = _p(welcomes, 0.99)
        out[f"answer_ms_p50_{group}"] = _p(answers, 0.5)
        out[f"answer_ms_p99_{group}"] = _p(answers, 0.99)
    return out


def _channel_checks(stack: Any, events: int, groups: tuple[str, ...]) -> dict[str, Any]:
    """The channels' counters equal what the burst sent (each event once), and tags came after welcomes."""
    from wecom_bundle import runtime

    expected = {group: sum(1 for i in range(events) if _group(i, groups) == group) for group in CHANNELS}
    read = runtime.channel_stats_reader()
    totals = {group: read(channel_id, time.time())["totals"] for group, channel_id in CHANNELS.items()}
    exact = totals["channel"] == {
        "added": expected["channel"],
        "welcomed": expected["channel"],
        "tagged": 0,
        "tag_failed": 0,
        "lost": 0,
    } and totals["channel_tags"] == {
        "added": expected["channel_tags"],
        "welcomed": expected["channel_tags"],
        "tagged": expected["channel_tags"],
        "tag_failed": 0,
        "lost": 0,
    }
    with stack.simulator.state.lock:
        calls = [(c.path.rsplit("/", 1)[-1], c.body) for c in stack.simulator.state.calls]
        customer_of = {code: wc.external_userid for code, wc in stack.simulator.state.welcome_codes.items()}
    return {
        "channel_totals": totals,
        "channel_counts_exact": exact,
        "mark_tag_calls": sum(1 for path, _ in calls if path == "mark_tag"),
        "mark_tag_after_its_welcome": _tags_follow_welcomes(calls, customer_of),
    }


def _tags_follow_welcomes(calls: list[tuple[str, Any]], customer_of: dict[str, str]) -> bool:
    """Every mark_tag's customer had its send_welcome_msg earlier in the simulator's call log."""
    welcomed: set[str] = set()
    for path, body in calls:
        if not isinstance(body, dict):
            continue
        if path == "send_welcome_msg":
            welcomed.add(customer_of.get(str(body.get("welcome_code")), ""))
        elif path == "mark_tag" and body.get("external_userid") not in welcomed:
            return False
    return True


def _warm_lookup_us() -> float:
    """The warm path's extra cost: one cached channel lookup (µs, mean of many)."""
    from wecom_bundle import runtime

    lookup = runtime.channel_lookup()
    lookup.find(CHANNELS["channel_tags"])
    started = time.perf_counter()
    for _ in range(LOOKUP_SAMPLES):
        lookup.find(CHANNELS["channel_tags"])
    return (time.perf_counter() - started) / LOOKUP_SAMPLES * 1e6
