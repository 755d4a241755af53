"""Result-sync races against AWS DynamoDB Local (real conditional writes) and the simulator.

- scheduled runs racing over the due index claim and queue each due msgid exactly once;
- two workers running the same pass at once (SQS delivers at least once) still leave every row once and
  totals equal to the simulator's ground truth;
- two passes that both read the rows before either wrote apply the same customer counter changes: every
  customer counted once (received, pending, limit reached).
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.wecom_sim.server import SimulatorHandle
from tests.support import Overriding, campaign_deps, dev_simulator, race, sync_deps
from wecom_bundle import runtime
from wecom_bundle.campaigns import create as campaign_create
from wecom_bundle.campaigns import repo as campaign_repo
from wecom_bundle.customers import quota as customer_quota
from wecom_bundle.dynamo import client as dynamo_client
from wecom_bundle.result_sync import fanout, sync_pass
from wecom_bundle.result_sync import repo as sync_repo
from wecom_bundle.result_sync.deps import SyncDeps
from wecom_bundle.result_sync.queue import SyncMessage
from wecom_bundle.result_sync.totals import STATUS_NAMES

pytestmark = pytest.mark.integration


@pytest.fixture
def sim(
    dynamodb_local: Any,
    aws_env: dict[str, str],  # noqa: ARG001
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SimulatorHandle]:
    monkeypatch.setenv("DYNAMODB_ENDPOINT", dynamodb_local.endpoint)
    secret = f"sync-races-{uuid.uuid4().hex}"  # our own token record on the session-wide DynamoDB Local
    monkeypatch.setenv("WECOM_CORP_SECRET", secret)
    dynamo_client.reset_client()
    handle = dev_simulator(corp_secret=secret)
    monkeypatch.setenv("WECOM_API_BASE", handle.url)
    runtime.reset()
    members = [f"sr{m}" for m in range(3)]
    customers = [
        {"external_userid": f"src{m}_{i}", "name": "c", "owner": f"sr{m}"}
        for m in range(3)
        for i in range(40)
    ]
    requests.post(
        f"{handle.url}/__sim/contacts", json={"members": members, "customers": customers}, timeout=30
    ).raise_for_status()
    yield handle
    handle.stop()
    runtime.reset()
    dynamo_client.reset_client()


@pytest.fixture
def queued() -> list[SyncMessage]:
    """What the runs would send to SQS (filled by ``deps``' queue)."""
    return []


@pytest.fixture
def deps(queued: list[SyncMessage]) -> SyncDeps:
    """The result sync's collaborators with a queue that records what the runs send (the queue itself is
    exercised by the unit and e2e tests)."""
    sent = queued
    lock = threading.Lock()

    def send(messages: list[SyncMessage], delay_s: int = 0) -> list[SyncMessage]:  # noqa: ARG001
        with lock:
            sent.extend(messages)
        return []

    return sync_deps(campaign_deps(), send_messages=send)


def create(text: str) -> tuple[str, list[str]]:
    ids = [f"src{m}_{i}" for m in range(3) for i in range(40)]
    created = campaign_create.create_campaign(
        campaign_deps(), {"external_userid": ids, "text": {"content": text}}, None
    )
    return created.body["campaign_id"], created.body["msgids"]


@pytest.mark.usefixtures("sim")
def test_racing_scheduled_runs_queue_each_due_msgid_once(queued: list[SyncMessage], deps: SyncDeps) -> None:
    ours = {m for n in range(4) for m in create(f"race {n} {time.time_ns()}")[1]}
    now = int(time.time()) + 5

    race(6, lambda _i: fanout.queue_due(deps, now, 1000))

    counted = Counter(m.msgid for m in queued if m.msgid in ours)
    assert set(counted) == ours and set(counted.values()) == {1}


def test_duplicate_deliveries_of_one_pass_leave_rows_and_totals_right(
    sim: SimulatorHandle, queued: list[SyncMessage], deps: SyncDeps
) -> None:
    campaign_id, (msgid,) = create(f"dup {time.time_ns()}")
    requests.post(
        f"{sim.url}/__sim/groupmsg/{msgid}/send",
        json={"userids": ["sr0", "sr2"], "customer_status": {"src0_1": 2, "src2_5": 3}},
        timeout=30,
    ).raise_for_status()
    now = int(time.time()) + 5
    sync_repo.mark_msgid_sync_due(msgid, now)  # due at our "now" whatever other suites left in the index
    fanout.queue_due(deps, now, 1000)
    (message,) = [m for m in queued if m.msgid == msgid]

    outcomes = race(
        4, lambda _i: sync_pass.sync_msgid(deps, msgid, message.token, deps.budget(60), now=now)["outcome"]
    )

    assert "synced" in outcomes and set(outcomes) <= {"synced", "stale"}
    task = requests.get(f"{sim.url}/__sim/groupmsg/{msgid}", timeout=30).json()
    truth = Counter(STATUS_NAMES[r["status"]] for m in task["members"] for r in m["recipients"])
    totals = campaign_repo.get_campaign(campaign_id)["totals"]["customers"]
    assert totals == {name: truth[name] for name in STATUS_NAMES.values()}
    rows = [r for m in ("sr0", "sr1", "sr2") for r in sync_repo.member_results(msgid, m)]
    assert len(rows) == 120 and len({r["external_userid"] for r in rows}) == 120


def test_two_passes_over_the_same_rows_count_each_customer_once(
    sim: SimulatorHandle, queued: list[SyncMessage], deps: SyncDeps
) -> None:
    run = uuid.uuid4().hex[:8]  # customers of this test alone on the session-wide DynamoDB Local
    ids = {f"q{run}_{m}_{i}": f"sr{m}" for m in range(2) for i in range(30)}
    customers = [{"external_userid": ext, "name": "c", "owner": owner} for ext, owner in ids.items()]
    requests.post(f"{sim.url}/__sim/contacts", json={"customers": customers}, timeout=30).raise_for_status()
    created = campaign_create.create_campaign(
        campaign_deps(), {"external_userid": list(ids), "text": {"content": f"q {run}"}}, None
    )
    (msgid,) = created.body["msgids"]
    now = int(time.time()) + 5
    first = _pass_token(deps, queued, msgid, now)
    assert sync_pass.sync_msgid(deps, msgid, first, deps.budget(60), now=now)["outcome"] == "synced"
    capped = f"q{run}_0_3"
    requests.post(
        f"{sim.url}/__sim/groupmsg/{msgid}/send",
        json={"userids": ["sr0"], "customer_status": {capped: 3}},
        timeout=30,
    ).raise_for_status()

    # Both passes read every member's stored rows before either writes: each sees every row as changed.
    both_read = threading.Barrier(2)

    def read_then_wait(msgid_: str, userid: str) -> list[dict[str, Any]]:
        rows = sync_repo.member_results(msgid_, userid)
        both_read.wait(timeout=60)
        return list(rows)

    racing = dataclasses.replace(deps, repo=Overriding(sync_repo, member_results=read_then_wait))
    token = _pass_token(deps, queued, msgid, now + 1)
    outcomes = race(2, lambda _i: sync_pass.sync_msgid(racing, msgid, token, racing.budget(60), now=now + 1))

    # both applied the changes: per customer of sr0, its pending entry out and its received (or capped) in
    assert [o["customer_counter_updates"] for o in outcomes] == [60, 60]
    reader = runtime.quota_reader()
    sent = [ext for ext, owner in ids.items() if owner == "sr0" and ext != capped]
    unsent = [ext for ext, owner in ids.items() if owner == "sr1"]
    usage = reader.usage(list(ids), now + 1)
    assert {ext: usage[ext].received for ext in sent} == {ext: 1 for ext in sent}
    assert usage[capped].received == 0 and usage[capped].limit_reached
    assert set(usage) == {*sent, capped}
    pending = reader.pending(list(ids), now + 1)
    assert pending == {ext: 1 for ext in unsent}
    assert customer_quota.capped_among(reader, list(ids), now + 1) == [capped]


def _pass_token(deps: SyncDeps, queued: list[SyncMessage], msgid: str, now: int) -> str:
    """Make ``msgid`` due at ``now``, let a scheduled run claim it, and answer the pass's token."""
    sync_repo.mark_msgid_sync_due(msgid, now)
    fanout.queue_due(deps, now, 1000)
    return [m for m in queued if m.msgid == msgid][-1].token
