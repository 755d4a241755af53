"""Result sync at scale: 100 members x 200 customers (20 000 rows), 80 % of members sent, synced through the
local stack against DynamoDB Local, then re-synced unchanged, then done the naive way for comparison.

Why this bench: the sync's claims are about cost — WeCom pages (the minimum, never more), DynamoDB writes
(only what changed; nothing on an unchanged re-sync) — and the only honest way to show them is to count them
at the other end: calls from the simulator's own call log, writes from a botocore hook on the layer's
DynamoDB client that classifies every written item by its key (row, member, aggregate, schedule).

Method: ``start_stack(dynamodb="local")`` (DynamoDB Local, the WeCom simulator over HTTP, moto SQS and the
poller that feeds ResultSyncWorkerFunction). The campaign goes through the admin API; WeCom caps a task at
10 000 customers, so it is two chunks (two msgids, 50 members each). ``result_sync.fanout.run_due`` (what
ResultSyncFunction runs) queues the due msgids; the stack's poller runs the worker. The worker pass is timed
and traced around ``result_sync.sync_pass.sync_msgid`` (tracemalloc is process-wide: it includes the simulator and
moto threads serving the pass, so it is an upper bound for the worker). The naive sync (every page of every
member, one ``put_item`` per row) writes under its own key prefix so the real data is untouched.
"""

from __future__ import annotations

import math
import os
import resource
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import requests

from local.stack import StackHandle, start_stack

MEMBERS, PER_MEMBER = 100, 200
SENT_EVERY = 5  # every 5th member does not send: 80 % sent
NAIVE_PK = "BENCHNAIVE#"
WAIT_S = 900.0  # a deadline, not a measurement (pass times are reported); generous for a busy machine
# The naive sync writes ~100 rows/s on DynamoDB Local (one round trip per row): the whole campaign would
# take minutes, so it runs over this many members of each msgid (its full task list, every page of each
# of those members) and its calls and writes are scaled to the campaign (both are exactly linear in members
# and rows); its rows per second are measured.
NAIVE_MEMBERS_PER_MSGID = int(
    os.environ.get("BENCH_NAIVE_MEMBERS_PER_MSGID") or 10
)  # 50 = the whole campaign
TASK_PATH, RESULT_PATH = "get_groupmsg_task", "get_groupmsg_send_result"
STATUS_NAMES = {0: "unsent", 1: "sent", 2: "not_friend", 3: "limit_reached"}


# ----------------------------------------------------------------------------------------------- counting
def _attr_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value by DynamoDB's sizing rules (numbers: ~1 byte per 2 digits + 1)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = str(Decimal(inner).normalize()).lstrip("-").replace(".", "")
        return math.ceil(len(digits.split("E")[0]) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _attr_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_attr_size(v) + 1 for v in inner)
    return sum(_attr_size({kind[0]: v}) for v in inner)  # SS / NS / BS


def item_wcu(item: dict[str, Any]) -> int:
    """Write units of one standard write of ``item``: ceil(size / 1 KB), as DynamoDB bills it."""
    size = sum(len(name.encode()) + _attr_size(value) for name, value in item.items())
    return max(1, math.ceil(size / 1024))


def _kind(key: dict[str, Any]) -> str:
    """Which part of the sync a written item belongs to, from its key."""
    pk, sk = key.get("pk", {}).get("S", ""), key.get("sk", {}).get("S", "")
    if pk.startswith(NAIVE_PK):
        return "naive"
    if sk == "MSGID":
        return "schedule"
    if sk.startswith("R#"):
        return "rows"
    if sk.startswith("MEMBER#"):
        return "members"
    if pk.startswith("CUST#"):
        return "customers"  # per-customer counter items (customers.tally)
    return "aggregates"


class WriteCounter:
    """Items and write units per kind, from every write call the layer's DynamoDB client makes.

    Units come two ways: ``consumed`` is DynamoDB's own ConsumedCapacity (the hook asks for it on every
    write, with indexes: ``index`` is the part DynamoDB reports for global secondary indexes), ``sized`` is
    ceil(item size / 1 KB) computed here for puts (an UpdateItem's resulting size is not visible to the
    caller, so updates count 1 sized unit — all of the sync's updates are small), and ``sized_index`` the
    index entries those puts write (a put carrying ``gsi2pk`` writes one entry of the same size: the
    indexes project ALL; a changed index key would cost one more, to delete the old entry).
    """

    def __init__(self) -> None:
        self.items: Counter[str] = Counter()
        self.consumed: Counter[str] = Counter()
        self.sized: Counter[str] = Counter()
        self.index: Counter[str] = Counter()
        self.sized_index: Counter[str] = Counter()
        self._local = threading.local()

    def install(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def snapshot(self) -> dict[str, Counter[str]]:
        return {
            "items": Counter(self.items),
            "consumed": Counter(self.consumed),
            "sized": Counter(self.sized),
            "index": Counter(self.index),
            "sized_index": Counter(self.sized_index),
        }

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        writes = self._writes(model.name, params)
        if not writes:
            self._local.kinds = None
            return
        params["ReturnConsumedCapacity"] = "INDEXES"
        for kind, units in writes:
            self.items[kind] += 1
            self.sized[kind] += units
        self._local.kinds = Counter(kind for kind, _ in writes)

    def _writes(self, operation: str, params: dict[str, Any]) -> list[tuple[str, int]]:
        """(entity kind, write units) of every item a write call asks for; the batch's indexed puts are
        tallied on the way (their index writes cost as much again)."""
        if operation == "PutItem":
            return [(_kind(params["Item"]), item_wcu(params["Item"]))]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(_kind(params["Key"]), 1)]
        if operation == "BatchWriteItem":
            return [self._batch_write(r) for rs in params["RequestItems"].values() for r in rs]
        if operation == "TransactWriteItems":
            return [_transact_write(entry) for entry in params["TransactItems"]]
        return []

    def _batch_write(self, request: dict[str, Any]) -> tuple[str, int]:
        if "PutRequest" not in request:
            return (_kind(request["DeleteRequest"]["Key"]), 1)
        item = request["PutRequest"]["Item"]
        if "gsi2pk" in item:
            self.sized_index[_kind(item)] += item_wcu(item)
        return (_kind(item), item_wcu(item))

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        kinds: Counter[str] | None = getattr(self._local, "kinds", None)
        self._local.kinds = None
        if not kinds:
            return
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = sum(float(e.get("CapacityUnits") or 0.0) for e in entries)
        index_units = sum(
            float(i.get("CapacityUnits") or 0.0)
            for e in entries
            for i in (e.get("GlobalSecondaryIndexes") or {}).values()
        )
        total = sum(kinds.values())
        for kind, n in kinds.items():  # a batch's units shared by item count (batches hold one kind)
            self.consumed[kind] += units * n / total
            self.index[kind] += index_units * n / total


def _delta(after: dict[str, Counter[str]], before: dict[str, Counter[str]]) -> dict[str, dict[str, float]]:
    return {
        measure: {k: round(v, 1) for k, v in (after[measure] - before[measure]).items()} for measure in after
    }


class SimCalls:
    """WeCom calls from the simulator's call log (``GET /__sim/calls``), per API name."""

    def __init__(self, url: str) -> None:
        self.url = url

    def count(self, name: str) -> int:
        answer = requests.get(f"{self.url}/__sim/calls", params={"path": name}, timeout=30)
        answer.raise_for_status()
        return len(answer.json())

    def snapshot(self) -> dict[str, int]:
        return {name: self.count(name) for name in (TASK_PATH, RESULT_PATH, "get_groupmsg_list_v2")}


# ----------------------------------------------------------------------------------------------- set-up
def _sim(stack: StackHandle, path: str, body: dict[str, Any]) -> Any:
    answer = requests.post(f"{stack.simulator.url}/__sim/{path}", json=body, timeout=60)
    answer.raise_for_status()
    return answer.json()


def _campaign(stack: StackHandle) -> tuple[str, list[str]]:
    """Contacts, the campaign via the admin API, members sending with some not_friend / limit_reached."""
    members = [f"m{m:03d}" for m in range(MEMBERS)]
    customers = [
        {"external_userid": f"wm{m:03d}x{i:03d}", "name": f"c{m}-{i}", "owner": members[m]}
        for m in range(MEMBERS)
        for i in range(PER_MEMBER)
    ]
    _sim(stack, "contacts", {"members": members, "customers": customers})
    body = {"external_userid": [c["external_userid"] for c in customers], "text": {"content": "bench"}}
    answer = requests.post(f"{stack.api_url}/admin/campaigns", json=body, timeout=120)
    answer.raise_for_status()
    created = answer.json()
    for msgid in created["msgids"]:
        task = requests.get(f"{stack.simulator.url}/__sim/groupmsg/{msgid}", timeout=30).json()
        senders = [m["userid"] for m in task["members"] if int(m["userid"][1:]) % SENT_EVERY]
        statuses = {}
        for userid in senders:  # every 4th sender: 10 customers no longer friends, 5 over the daily limit
            if int(userid[1:]) % 4 == 0:
                statuses |= {f"wm{userid[1:]}x{i:03d}": "not_friend" for i in range(10)}
                statuses |= {f"wm{userid[1:]}x{i:03d}": "limit_reached" for i in range(10, 15)}
        _sim(stack, f"groupmsg/{msgid}/send", {"userids": senders, "customer_status": statuses})
    return created["campaign_id"], list(created["msgids"])


def _ground_truth(stack: StackHandle, msgids: list[str]) -> tuple[dict[str, Any], int]:
    """The simulator's totals over the campaign's tasks, and the minimum pages one full sync needs."""
    members: Counter[str] = Counter()
    customers: Counter[str] = Counter()
    pages = 0
    for msgid in msgids:
        task = requests.get(f"{stack.simulator.url}/__sim/groupmsg/{msgid}", timeout=30).json()
        pages += max(1, math.ceil(len(task["members"]) / 1000))
        for member in task["members"]:
            members["sent" if member["status"] == 2 else "unsent"] += 1
            customers.update(STATUS_NAMES[r["status"]] for r in member["recipients"])
            pages += max(1, math.ceil(len(member["recipients"]) / 1000))
    truth = {
        "members": {"sent": members["sent"], "unsent": members["unsent"]},
        "customers": {name: customers[name] for name in STATUS_NAMES.values()},
    }
    return truth, pages


# ----------------------------------------------------------------------------------------------- the passes
@contextmanager
def _timed_passes(traced: int | None) -> Iterator[list[dict[str, Any]]]:
    """Wrap ``result_sync.sync_pass.sync_msgid`` (the worker's pass) to time it; yields the list of pass records.

    Pass number ``traced`` runs under tracemalloc, the others do not: tracemalloc more than doubles the
    pass's time, so rows per second come from the untraced passes and the memory peak from the traced one.
    """
    from wecom_bundle.result_sync import sync_pass

    original = sync_pass.sync_msgid
    passes: list[dict[str, Any]] = []

    def timed(*args: Any, **kwargs: Any) -> dict[str, Any]:
        trace = len(passes) == traced
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        summary = original(*args, **kwargs)
        record = {**summary, "seconds": time.perf_counter() - started, "traced": trace}
        if trace:
            record["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        passes.append(record)
        return summary

    sync_pass.sync_msgid = timed  # type: ignore[assignment]
    try:
        yield passes
    finally:
        sync_pass.sync_msgid = original  # type: ignore[assignment]


def _sync_round(now: int, expected: int, traced: int | None = None) -> dict[str, Any]:
    """One scheduled run (in-process, at ``now``), then wait for the stack's worker to finish every pass."""
    from wecom_bundle import runtime
    from wecom_bundle.result_sync import fanout

    with _timed_passes(traced) as passes:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        queued = fanout.run_due(runtime.sync_deps(), 60, now=now)
        deadline = time.monotonic() + WAIT_S
        while len(passes) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker finished {len(passes)} of {expected} passes in {WAIT_S} s")
            time.sleep(0.05)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if queued.get("msgids_queued") != expected or any(p["outcome"] != "synced" for p in passes):
        raise RuntimeError(f"sync round went wrong: {queued} {passes}")
    timed = [p for p in passes if not p["traced"]]
    return {
        "seconds": sum(p["seconds"] for p in passes),
        "untraced_seconds": sum(p["seconds"] for p in timed),
        "untraced_rows": sum(p["rows_written"] for p in timed),
        "pass_seconds": [round(p["seconds"], 2) for p in passes],
        "rows_written": sum(p["rows_written"] for p in passes),
        "customer_counter_updates": sum(p.get("customer_counter_updates", 0) for p in passes),
        "members_written": sum(p["members_written"] for p in passes),
        "tracemalloc_peak_mb": max((p["tracemalloc_peak_mb"] for p in passes if p["traced"]), default=None),
        "maxrss_delta_mb": (rss_after - rss_before) / 1024,  # ru_maxrss is KB on Linux
        "next_sync_at": max(int(p.get("next_sync_at") or 0) for p in passes),
    }


def naive_sync(msgids: list[str], members_per_msgid: int | None = None) -> dict[str, Any]:
    """The sync without state: every page of every member, one ``put_item`` per row, every time.

    Same WeCom client and DynamoDB client as the worker; WeCom's default page size; rows under
    ``BENCHNAIVE#<msgid>`` so the real rows, members and totals are not disturbed.
    """
    from wecom_bundle import config, runtime
    from wecom_bundle.dynamo import client as dynamo_client
    from wecom_bundle.dynamo.codec import encode_item

    wecom, dynamodb, table = runtime.wecom_client(), dynamo_client.client(), config.table_name()
    rows = 0
    started = time.perf_counter()
    for msgid in msgids:
        members = [
            str(m["userid"])
            for page, _ in wecom.paginate(f"externalcontact/{TASK_PATH}", {"msgid": msgid}, "task_list")
            for m in page
        ]
        for userid in members[:members_per_msgid]:
            body = {"msgid": msgid, "userid": userid}
            for page, _ in wecom.paginate(f"externalcontact/{RESULT_PATH}", body, "send_list"):
                for row in page:
                    item = {"pk": f"{NAIVE_PK}{msgid}", "sk": f"R#{userid}#{row['external_userid']}", **row}
                    dynamodb.put_item(TableName=table, Item=encode_item(item))
                    rows += 1
    return {"seconds": time.perf_counter() - started, "rows_written": rows}


def _customer_costs(
    first: dict[str, dict[str, float]], again: dict[str, dict[str, float]], first_round: dict[str, Any]
) -> dict[str, Any]:
    """The customer storage's share of the sync's writes: the counter items (UpdateItems, one per customer
    item changed) and the rows' entries in the customer index (gsi2). What a first sync pays extra, and
    that an unchanged re-sync writes none of it."""
    counters = first["consumed"].get("customers", 0.0)
    index_sized = first["sized_index"].get("rows", 0.0)
    index_reported = first["index"].get("rows", 0.0)
    return {
        "customer_first_counter_updates": first_round["customer_counter_updates"],
        "customer_first_counter_wcu": counters,
        "customer_first_index_wcu_sized": index_sized,
        "customer_first_index_wcu_reported": index_reported,
        # DynamoDB bills an index entry per put that carries its keys; DynamoDB Local may not report it.
        "customer_first_extra_wcu": round(counters + max(index_sized, index_reported), 1),
        "customer_resync_writes": again["items"].get("customers", 0) + again["items"].get("rows", 0),
    }


def _admin_totals(stack: StackHandle, campaign_id: str) -> dict[str, Any]:
    answer = requests.get(f"{stack.api_url}/admin/campaigns/{campaign_id}", timeout=30)
    answer.raise_for_status()
    return dict(answer.json()["totals"])


# ----------------------------------------------------------------------------------------------- the bench
def run() -> dict[str, Any]:
    """Start the stack on DynamoDB Local, run the bench, stop the stack."""
    # A pass takes longer than the local default visibility (5 s): keep the message hidden while it runs.
    stack = start_stack(api_port=0, dynamodb="local", environ={"LOCAL_QUEUE_VISIBILITY_SECONDS": "600"})
    try:
        return _bench(stack)
    finally:
        stack.stop()


def _pages(after: dict[str, int], before: dict[str, int]) -> tuple[int, int]:
    return after[TASK_PATH] - before[TASK_PATH], after[RESULT_PATH] - before[RESULT_PATH]


def _ratio(naive: float, ours: float) -> float | None:
    return round(naive / ours, 1) if ours else None


def _bench(stack: StackHandle) -> dict[str, Any]:
    from wecom_bundle.dynamo import client as dynamo_client

    if not stack.pollers:
        raise RuntimeError("the local stack has no SQS poller for ResultSyncWorkerFunction")
    writes = WriteCounter()
    writes.install(dynamo_client.client())
    sim = SimCalls(stack.simulator.url)
    campaign_id, msgids = _campaign(stack)
    truth, min_pages = _ground_truth(stack, msgids)
    rows_total = sum(truth["customers"].values())

    calls0, writes0 = sim.snapshot(), writes.snapshot()
    first = _sync_round(int(time.time()), len(msgids), traced=len(msgids) - 1)
    calls1, writes1 = sim.snapshot(), writes.snapshot()
    totals_first = _admin_totals(stack, campaign_id)
    again = _sync_round(first["next_sync_at"], len(msgids))
    calls2, writes2 = sim.snapshot(), writes.snapshot()
    totals_again = _admin_totals(stack, campaign_id)

    naive = naive_sync(msgids, NAIVE_MEMBERS_PER_MSGID)
    calls3, writes3 = sim.snapshot(), writes.snapshot()

    w_first, w_again, w_naive = _delta(writes1, writes0), _delta(writes2, writes1), _delta(writes3, writes2)
    first_pages, again_pages, naive_pages = (
        _pages(calls1, calls0),
        _pages(calls2, calls1),
        _pages(calls3, calls2),
    )
    # The naive sample scaled to the campaign: its task pages were all read; its result pages, writes and
    # time grow with the members and rows it covered.
    scale = rows_total / naive["rows_written"]
    naive_calls = naive_pages[0] + naive_pages[1] * MEMBERS // (NAIVE_MEMBERS_PER_MSGID * len(msgids))
    naive_units = sum(w_naive["consumed"].values()) * scale
    naive_seconds = naive["seconds"] * scale
    # Per row, untraced: the traced pass is slower than the worker really is.
    ours_rate = first["untraced_rows"] / first["untraced_seconds"]
    first_seconds = rows_total / ours_rate
    first_units, again_units = sum(w_first["consumed"].values()), sum(w_again["consumed"].values())
    content = ("rows", "members", "aggregates")
    return {
        "sync_rows": rows_total,
        "sync_msgids": len(msgids),
        "sync_min_pages": min_pages,
        "sync_first_task_pages": first_pages[0],
        "sync_first_result_pages": first_pages[1],
        "sync_first_wecom_calls_over_minimum": sum(first_pages) - min_pages,
        "sync_resync_task_pages": again_pages[0],
        "sync_resync_result_pages": again_pages[1],
        "sync_resync_task_pages_over_minimum": again_pages[0] - len(msgids),
        "sync_list_v2_calls": calls2["get_groupmsg_list_v2"] - calls0["get_groupmsg_list_v2"],
        "sync_first_writes": w_first,
        "sync_first_write_units": first_units,
        "sync_resync_writes": w_again,
        "sync_resync_item_writes": sum(w_again["items"].get(k, 0) for k in content),
        "sync_resync_schedule_writes": w_again["items"].get("schedule", 0),
        "sync_resync_write_units": again_units,
        "sync_first_pass_seconds": first["pass_seconds"],
        "sync_rows_per_s": ours_rate,
        "sync_first_seconds_untraced": first_seconds,
        "sync_first_rows_written": first["rows_written"],
        "sync_pass_tracemalloc_peak_mb": first["tracemalloc_peak_mb"],
        "sync_first_maxrss_delta_mb": first["maxrss_delta_mb"],
        "sync_resync_seconds": again["seconds"],
        **_customer_costs(w_first, w_again, first),
        "sync_totals_equal_ground_truth": totals_first == truth and totals_again == truth,
        "sync_totals": totals_again,
        "naive_sample_rows": naive["rows_written"],
        "naive_sample_wecom_calls": sum(naive_pages),
        "naive_sample_writes": w_naive,
        "naive_sample_seconds": naive["seconds"],
        "naive_rows_per_s": naive["rows_written"] / naive["seconds"],
        "naive_wecom_calls": naive_calls,
        "naive_write_units": naive_units,
        "naive_seconds": naive_seconds,
        "ratio_first_naive_over_ours": {
            "calls": _ratio(naive_calls, sum(first_pages)),
            "write_units": _ratio(naive_units, first_units),
            "seconds": _ratio(naive_seconds, first_seconds),
        },
        # The naive sync keeps no state: its re-sync repeats its first sync call for call and put for put.
        "ratio_resync_naive_over_ours": {
            "calls": _ratio(naive_calls, sum(again_pages)),
            "write_units": _ratio(naive_units, again_units),
            "seconds": _ratio(naive_seconds, again["seconds"]),
        },
    }


def _transact_write(entry: dict[str, Any]) -> tuple[str, int]:
    """A transaction's entry costs twice its write units (DynamoDB's two-phase writes)."""
    ((_op, body),) = entry.items()
    item = body.get("Item") or body["Key"]
    return (_kind(item), 2 * (item_wcu(item) if "Item" in body else 1))
