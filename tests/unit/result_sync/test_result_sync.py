"""Result sync: paging to the last cursor, both result shapes, only-changes writes, checkpoints and resume,
back-off, adaptive cadence, ingestion from list_v2, and aggregates equal to a recount of the stored rows.

Against the WeCom simulator over real HTTP, moto's DynamoDB and moto's SQS (the fan-out queue).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections import Counter
from datetime import UTC
from typing import Any

import pytest
import requests

from local.events import http_event
from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import (
    DynamoWrites,
    Overriding,
    call_json,
    campaign_deps,
    emf_records,
    function_under_test,
    metric_dimensions,
    no_sleep,
    sim_control,
    sync_deps,
)
from wecom_bundle.campaigns import cancel, create, queries
from wecom_bundle.campaigns import repo as campaign_repo
from wecom_bundle.dynamo import client as dynamo_client
from wecom_bundle.result_sync import fanout, ingest, sync_pass
from wecom_bundle.result_sync import repo as sync_repo
from wecom_bundle.result_sync.budget import Budget, OutOfTime
from wecom_bundle.result_sync.cadence import DAY, HOUR, Cadence
from wecom_bundle.result_sync.deps import SyncDeps
from wecom_bundle.result_sync.queue import SyncMessage
from wecom_bundle.result_sync.totals import STATUS_NAMES
from wecomctl.campaign_views import describe

MEMBERS = ("u0", "u1", "u2", "u3")
PER_MEMBER = 5
# Retries and back-offs without pauses; PAGES_OF_2: every multi-page path with a handful of rows.
DEPS = campaign_deps()
SYNC_DEPS = sync_deps(DEPS)
PAGES_OF_2 = sync_deps(DEPS, page_limit=2)


@pytest.fixture
def sim(wecom_sim: SimulatorHandle, sync_queue: tuple[Any, str]) -> SimulatorHandle:  # noqa: ARG001
    customers = [
        {"external_userid": f"c{m}_{i}", "name": f"c{m}{i}", "owner": f"u{m}"}
        for m in range(len(MEMBERS))
        for i in range(PER_MEMBER)
    ]
    sim_control(wecom_sim, "contacts", {"members": list(MEMBERS), "customers": customers})
    return wecom_sim


def new_campaign(members: tuple[str, ...] = MEMBERS) -> tuple[str, str]:
    ids = [f"c{m[1:]}_{i}" for m in members for i in range(PER_MEMBER)]
    created = create.create_campaign(DEPS, {"external_userid": ids, "text": {"content": "sale"}}, None)
    assert created.body["status"] == "active"
    (msgid,) = created.body["msgids"]
    return created.body["campaign_id"], msgid


def members_send(sim: SimulatorHandle, msgid: str, userids: list[str], **statuses: str) -> None:
    sim_control(sim, f"groupmsg/{msgid}/send", {"userids": userids, "customer_status": statuses})


def drain(
    sync_queue: tuple[Any, str], now: int, budget: Any = None, deps: SyncDeps = SYNC_DEPS
) -> list[dict[str, Any]]:
    """Play the worker: run every queued pass until the queue is empty."""
    client, url = sync_queue
    summaries = []
    for _ in range(50):
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return summaries
        for message in messages:
            msg = SyncMessage.decode(message["Body"])
            summaries.append(
                sync_pass.sync_msgid(deps, msg.msgid, msg.token, budget or deps.budget(120), now=now)
            )
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the queue never drained")


def sync_round(
    sync_queue: tuple[Any, str], now: int, budget: Any = None, deps: SyncDeps = SYNC_DEPS
) -> list[dict[str, Any]]:
    """One scheduled run (ingest + queue due msgids), then the workers."""
    fanout.run_due(deps, 60, now=now)
    return drain(sync_queue, now, budget, deps)


def ground_truth(sim: SimulatorHandle, msgid: str) -> dict[str, Any]:
    """The simulator's own view of a task, in the totals shape."""
    task = requests.get(f"{sim.url}/__sim/groupmsg/{msgid}", timeout=5).json()
    members = Counter("sent" if m["status"] == 2 else "unsent" for m in task["members"])
    customers = Counter(STATUS_NAMES[r["status"]] for m in task["members"] for r in m["recipients"])
    return {
        "members": {"sent": members["sent"], "unsent": members["unsent"]},
        "customers": {name: customers[name] for name in STATUS_NAMES.values()},
    }


def stored_rows(table: Any, msgid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :r)",
        "ExpressionAttributeValues": {":pk": f"MSGID#{msgid}", ":r": "R#"},
    }
    while True:
        page = table.query(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def recount(rows: list[dict[str, Any]]) -> dict[str, int]:
    counted = Counter(STATUS_NAMES[int(r["status"])] for r in rows)
    return {name: counted[name] for name in STATUS_NAMES.values()}


def api_calls(sim: SimulatorHandle, name: str) -> int:
    return len(calls(sim.state, name))


def claimed_message(sync_queue: tuple[Any, str], now: int) -> SyncMessage:
    """One scheduled run, and the message it queued (taken off the queue, as a worker would)."""
    fanout.run_due(SYNC_DEPS, 60, now=now)
    client, url = sync_queue
    (message,) = client.receive_message(QueueUrl=url)["Messages"]
    client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return SyncMessage.decode(message["Body"])


def writes_failing_at(call: int) -> Any:
    """``sync_repo.write_results`` that raises on its ``call``-th use (the worker dies there)."""
    real_write = sync_repo.write_results
    writes = {"n": 0}

    def write(msgid: str, rows: list[dict[str, Any]]) -> None:
        writes["n"] += 1
        if writes["n"] == call:
            raise RuntimeError("the worker died")
        real_write(msgid, rows)

    return write


# ----------------------------------------------------------------------------------------------- the pass
def test_first_sync_stores_members_rows_and_totals_equal_to_wecom(
    sim: SimulatorHandle, sync_queue: Any, moto_table: Any
) -> None:
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, ["u0", "u1"], c1_0="not_friend", c1_1="limit_reached")
    now = int(time.time())

    (summary,) = sync_round(sync_queue, now)

    assert summary["outcome"] == "synced"
    assert summary["members_pulled"] == len(MEMBERS)
    assert summary["rows_written"] == len(MEMBERS) * PER_MEMBER
    assert summary["members_written"] == len(MEMBERS)  # once each, after its results
    campaign = campaign_repo.get_campaign(campaign_id)
    assert campaign["totals"] == ground_truth(sim, msgid)
    assert campaign["totals"]["customers"] == {"sent": 8, "unsent": 10, "not_friend": 1, "limit_reached": 1}
    assert campaign["totals"]["customers"] == recount(stored_rows(moto_table, msgid))
    row = sync_repo.member_results(msgid, "u1")[0]
    assert set(row) >= {"msgid", "userid", "external_userid", "status"} and "chat_id" not in row
    chunk = campaign_repo.campaign_chunks(campaign_id)[0]
    assert chunk["members_unsent"] == 2
    assert chunk["first_send_time"] <= chunk["last_send_time"]


def test_unchanged_resync_calls_one_task_page_and_writes_no_row(
    sim: SimulatorHandle, sync_queue: Any
) -> None:
    _, msgid = new_campaign()
    members_send(sim, msgid, ["u0", "u1", "u2"])
    now = int(time.time())
    sync_round(sync_queue, now)
    before = (api_calls(sim, "get_groupmsg_task"), api_calls(sim, "get_groupmsg_send_result"))
    writes = DynamoWrites().install(dynamo_client.client())
    writes_before = writes.items

    (summary,) = sync_round(sync_queue, now + 2)

    assert (api_calls(sim, "get_groupmsg_task"), api_calls(sim, "get_groupmsg_send_result")) == (
        before[0] + 1,
        before[1],
    )
    assert summary["rows_written"] == summary["members_written"] == 0
    # Only the schedule moves: the run's claim and the worker's finish on the msgid item.
    assert writes.items - writes_before == 2


def test_members_who_send_later_are_the_only_ones_pulled_again(
    sim: SimulatorHandle, sync_queue: Any, moto_table: Any
) -> None:
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, ["u0"])
    now = int(time.time())
    sync_round(sync_queue, now)
    members_send(sim, msgid, ["u2"], c2_3="not_friend")
    before = api_calls(sim, "get_groupmsg_send_result")

    (summary,) = sync_round(sync_queue, now + 2)

    assert api_calls(sim, "get_groupmsg_send_result") - before == 1
    assert summary["rows_written"] == PER_MEMBER
    assert campaign_repo.get_campaign(campaign_id)["totals"] == ground_truth(sim, msgid)
    assert campaign_repo.get_campaign(campaign_id)["totals"]["customers"] == recount(
        stored_rows(moto_table, msgid)
    )


def test_pages_are_followed_to_an_empty_last_page(sim: SimulatorHandle, sync_queue: Any) -> None:
    sim_control(sim, "groupmsg/pagination", {"trailing_empty_page": True})
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, list(MEMBERS))

    sync_round(sync_queue, int(time.time()), deps=PAGES_OF_2)

    # 4 members in pages of 2 plus the empty page; 5 rows per member in pages of 2 plus the empty page.
    assert api_calls(sim, "get_groupmsg_task") == 3
    assert api_calls(sim, "get_groupmsg_send_result") == len(MEMBERS) * 4
    campaign = campaign_repo.get_campaign(campaign_id)
    assert campaign["totals"] == ground_truth(sim, msgid)
    assert campaign["status"] == "completed"


def test_group_tasks_store_chat_id_rows(sim: SimulatorHandle, sync_queue: Any) -> None:
    sim_control(sim, "contacts", {"chats": [{"chat_id": f"wr{i}", "owner": "u0"} for i in range(3)]})
    created = create.create_campaign(
        DEPS, {"chat_type": "group", "sender": "u0", "text": {"content": "hi"}}, None
    )
    (msgid,) = created.body["msgids"]
    members_send(sim, msgid, ["u0"])

    sync_round(sync_queue, int(time.time()))

    rows = sync_repo.member_results(msgid, "u0")
    assert sorted(r["chat_id"] for r in rows) == ["wr0", "wr1", "wr2"]
    assert all("external_userid" not in r for r in rows)
    assert campaign_repo.get_campaign(created.body["campaign_id"])["totals"] == ground_truth(sim, msgid)


def test_completed_when_every_member_sent_and_every_row_is_final(
    sim: SimulatorHandle, sync_queue: Any
) -> None:
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, list(MEMBERS), c0_0="not_friend")
    now = int(time.time())

    (summary,) = sync_round(sync_queue, now)

    assert summary["campaign_completed"] is True and summary["next_sync_at"] is None
    assert campaign_repo.get_campaign(campaign_id)["status"] == "completed"
    registry = campaign_repo.get_msgid_owner(msgid)
    assert registry["sync_state"] == "done" and "next_sync_at" not in registry
    assert sync_round(sync_queue, now + DAY) == []  # never queued again


# ----------------------------------------------------------------------------------------------- resume
class CallsBudget(Budget):
    """A budget that runs out after ``calls`` WeCom calls (a Lambda about to time out)."""

    def __init__(self, calls: int) -> None:
        super().__init__(600, sleep=no_sleep)
        self.allowed = calls

    def check(self) -> None:
        if self.calls >= self.allowed:
            raise OutOfTime


def test_out_of_time_checkpoints_and_the_continuation_resumes_without_refetching(
    sim: SimulatorHandle, sync_queue: Any, moto_table: Any
) -> None:
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, ["u0", "u1", "u3"], c3_4="limit_reached")
    now = int(time.time())
    msg = claimed_message(sync_queue, now)

    first = sync_pass.sync_msgid(PAGES_OF_2, msg.msgid, msg.token, CallsBudget(5), now=now)

    assert first["outcome"] == "continued"
    assert campaign_repo.get_msgid_owner(msgid)["sync_phase"] == "results"
    rest = drain(sync_queue, now, deps=PAGES_OF_2)  # the continuation message, same token
    assert [s["outcome"] for s in rest] == ["synced"]
    # 2 task pages + 4 members x 3 result pages: every page fetched exactly once across both invocations.
    assert api_calls(sim, "get_groupmsg_task") == 2
    assert api_calls(sim, "get_groupmsg_send_result") == len(MEMBERS) * 3
    totals = campaign_repo.get_campaign(campaign_id)["totals"]
    assert totals == ground_truth(sim, msgid)
    assert totals["customers"] == recount(stored_rows(moto_table, msgid))


def test_a_worker_killed_mid_pass_is_redone_without_loss_or_double_counting(
    sim: SimulatorHandle, sync_queue: Any, moto_table: Any
) -> None:
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, ["u0", "u2"])
    now = int(time.time())
    msg = claimed_message(sync_queue, now)
    failing = dataclasses.replace(SYNC_DEPS, repo=Overriding(sync_repo, write_results=writes_failing_at(3)))
    with pytest.raises(RuntimeError):
        sync_pass.sync_msgid(failing, msg.msgid, msg.token, SYNC_DEPS.budget(60), now=now)

    # SQS redelivers the same message: the pass is redone from what was stored.
    again = sync_pass.sync_msgid(SYNC_DEPS, msg.msgid, msg.token, SYNC_DEPS.budget(60), now=now)

    assert again["outcome"] == "synced"
    assert again["rows_written"] == (len(MEMBERS) - 2) * PER_MEMBER  # the rows stored before the crash stay
    totals = campaign_repo.get_campaign(campaign_id)["totals"]
    assert totals == ground_truth(sim, msgid)
    assert totals["customers"] == recount(stored_rows(moto_table, msgid))
    assert len(stored_rows(moto_table, msgid)) == len(MEMBERS) * PER_MEMBER


def test_a_pass_that_fails_resumes_from_its_page_checkpoints(
    sim: SimulatorHandle, sync_queue: Any, moto_table: Any
) -> None:
    deps = PAGES_OF_2  # 2 task pages, 3 result pages per member
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, list(MEMBERS), c0_4="not_friend")
    now = int(time.time())
    msg = claimed_message(sync_queue, now)
    failing = dataclasses.replace(deps, repo=Overriding(sync_repo, write_results=writes_failing_at(2)))
    with pytest.raises(RuntimeError):  # u0's second result page
        sync_pass.sync_msgid(failing, msg.msgid, msg.token, deps.budget(60), now=now)
    assert campaign_repo.get_msgid_owner(msgid)["task_cursor"]

    again = sync_pass.sync_msgid(deps, msg.msgid, msg.token, deps.budget(60), now=now)  # SQS redelivers it

    assert again["outcome"] == "synced"
    # Only the page that failed is fetched twice: the task page after the checkpoint, u0's second page.
    assert api_calls(sim, "get_groupmsg_task") == 2 + 1
    assert api_calls(sim, "get_groupmsg_send_result") == len(MEMBERS) * 3 + 1
    totals = campaign_repo.get_campaign(campaign_id)["totals"]
    assert totals == ground_truth(sim, msgid)
    assert totals["customers"] == recount(stored_rows(moto_table, msgid))


@pytest.mark.usefixtures("sync_queue")
def test_stale_and_malformed_messages(sim: SimulatorHandle) -> None:
    _, msgid = new_campaign()
    fanout.run_due(SYNC_DEPS, 60, now=int(time.time()))
    assert sync_pass.sync_msgid(SYNC_DEPS, msgid, "not-the-claim", SYNC_DEPS.budget(60))["outcome"] == "stale"
    assert api_calls(sim, "get_groupmsg_task") == 0
    for body in ("not json", "[]", '{"msgid": "m"}', '{"msgid": "", "token": "t"}'):
        with pytest.raises(ValueError):
            sync_pass.sync_message(SYNC_DEPS, body, budget_ms=60_000)


@pytest.mark.parametrize("errcode", [45033, 45009])
def test_rate_limits_back_off_and_retry(sim: SimulatorHandle, sync_queue: Any, errcode: int) -> None:
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, ["u1"])
    sim_control(sim, "faults", {"path": "get_groupmsg_send_result", "errcode": errcode, "times": 2})
    sim_control(sim, "faults", {"path": "get_groupmsg_task", "errcode": errcode, "times": 1})

    (summary,) = sync_round(sync_queue, int(time.time()))

    assert summary["outcome"] == "synced" and summary["backoffs"] == 3
    assert campaign_repo.get_campaign(campaign_id)["totals"] == ground_truth(sim, msgid)


def test_rate_limit_lasting_past_the_budget_continues_later(sim: SimulatorHandle, sync_queue: Any) -> None:
    _, msgid = new_campaign()
    sim_control(sim, "faults", {"path": "get_groupmsg_task", "errcode": 45033, "times": 100})
    clock = {"t": 0.0}
    clocked = dataclasses.replace(
        SYNC_DEPS, clock=lambda: clock["t"], sleep=lambda s: clock.__setitem__("t", clock["t"] + s)
    )
    msg = claimed_message(sync_queue, int(time.time()))

    summary = sync_pass.sync_msgid(
        clocked, msg.msgid, msg.token, clocked.budget(60, reserve_s=15), now=int(time.time())
    )

    assert summary["outcome"] == "continued" and summary["backoffs"] >= 2
    assert (
        campaign_repo.get_msgid_owner(msgid)["sync_token"] == msg.token
    )  # still claimed: the continuation owns it


def test_a_definite_refusal_stops_syncing_that_msgid(sim: SimulatorHandle, sync_queue: Any) -> None:
    _, msgid = new_campaign()
    sim_control(sim, "faults", {"path": "get_groupmsg_task", "errcode": 41063, "times": 1})
    (summary,) = sync_round(sync_queue, int(time.time()))
    assert summary["outcome"] == "refused" and summary["errcode"] == 41063
    registry = campaign_repo.get_msgid_owner(msgid)
    assert registry["sync_state"] == "refused" and "gsi3pk" not in registry and "next_sync_at" not in registry


# ----------------------------------------------------------------------------------------------- cadence
def test_cadence_by_age() -> None:
    cadence = Cadence(fresh_s=DAY, hourly_until_s=7 * DAY, daily_until_s=30 * DAY)
    created = 1_800_000_000
    assert cadence.next_sync_at(created, created + 60) == created + 61
    assert cadence.next_sync_at(created, created + DAY) == created + DAY + HOUR
    assert cadence.next_sync_at(created, created + 7 * DAY) == created + 8 * DAY
    assert cadence.next_sync_at(created, created + 30 * DAY) is None


@pytest.mark.usefixtures("sim")
def test_each_run_reports_how_long_the_oldest_due_msgid_has_waited(
    sync_queue: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dashboard's result-sync lag (ResultSyncLag, seconds); a campaign's creation is counted too."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    capsys.readouterr()
    _, msgid = new_campaign()
    (created,) = emf_records(capsys.readouterr().out, "CampaignCreated")
    assert (created["send"], metric_dimensions(created)) == ("now", [["send", "service"]])
    due_at = int(campaign_repo.get_msgid_owner(msgid)["next_sync_at"])
    fanout.run_due(SYNC_DEPS, 60, now=due_at + 90)
    (lag,) = emf_records(capsys.readouterr().out, "ResultSyncLag")
    assert lag["ResultSyncLag"] == [90.0]
    assert lag["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "ResultSyncLag", "Unit": "Seconds"}]
    assert metric_dimensions(lag) == [["service"]]
    drain(sync_queue, due_at + 90)
    fanout.run_due(SYNC_DEPS, 60, now=due_at + 91)  # synced a second ago: nothing is due
    (lag,) = emf_records(capsys.readouterr().out, "ResultSyncLag")
    assert lag["ResultSyncLag"] == [0.0]


@pytest.mark.usefixtures("sim")
def test_old_msgids_are_synced_less_often_and_a_reminder_makes_them_due(sync_queue: Any) -> None:
    _, msgid = new_campaign()
    now = int(time.time())
    sync_round(sync_queue, now + 2 * DAY)  # the task is two days old at this run: hourly
    registry = campaign_repo.get_msgid_owner(msgid)
    assert registry["next_sync_at"] == now + 2 * DAY + HOUR
    assert sync_round(sync_queue, now + 2 * DAY + 60) == []  # not due yet
    assert sync_repo.mark_msgid_sync_due(msgid, now + 2 * DAY + 120)
    assert [s["outcome"] for s in sync_round(sync_queue, now + 2 * DAY + 121)] == ["synced"]
    sync_round(sync_queue, now + 31 * DAY)  # a month old: the last sync
    assert campaign_repo.get_msgid_owner(msgid)["sync_state"] == "done"


def test_a_cancelled_campaign_gets_one_settling_pass(sim: SimulatorHandle, sync_queue: Any) -> None:
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, ["u0"])
    now = int(time.time())
    cancel.cancel_campaign(DEPS, campaign_id, now=now)
    (first,) = sync_round(sync_queue, now + 1)
    assert first["next_sync_at"] == now + sync_pass.CANCEL_SETTLE_S
    (last,) = sync_round(sync_queue, now + sync_pass.CANCEL_SETTLE_S)
    assert last["next_sync_at"] is None
    assert campaign_repo.get_campaign(campaign_id)["totals"] == ground_truth(sim, msgid)


# ----------------------------------------------------------------------------------------------- ingestion
def test_console_and_member_tasks_are_ingested_and_synced(sim: SimulatorHandle, sync_queue: Any) -> None:
    now = int(time.time())
    console = sim_control(
        sim,
        "groupmsg/admin_task",
        {"creator": "u0", "external_userid": ["c0_0", "c0_1"], "text": {"content": "console"}},
    )
    member = sim_control(
        sim, "groupmsg/admin_task", {"creator": "u1", "create_type": 1, "text": {"content": "mine"}}
    )
    members_send(sim, console["msgid"], ["u0"])
    members_send(sim, member["msgid"], ["u1"], c1_2="not_friend")

    sync_round(sync_queue, now + ingest.SETTLE_S + 1)

    for created, origin in ((console, "admin_console"), (member, "member")):
        campaign = campaign_repo.get_campaign(ingest.external_campaign_id(created["msgid"]))
        assert campaign["origin"] == origin
        assert campaign["totals"] == ground_truth(sim, created["msgid"])
        assert campaign["status"] == "completed"
    assert campaign_repo.get_campaign(ingest.external_campaign_id(member["msgid"]))["sender"] == "u1"
    # listed again at the next run: already known, nothing new
    summary = fanout.run_due(SYNC_DEPS, 60, now=now + ingest.SETTLE_S + 2)
    assert summary["tasks_ingested"] == 0 and summary["tasks_listed"] == 2


def crash(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError("Lambda died after WeCom answered")


# The msgid registration is the first write after WeCom's answer (for a campaign without a fail list).
CRASHING = campaign_deps(repo=Overriding(campaign_repo, claim_msgid=crash))


def crash_after_wecom_answered(text: str) -> None:
    """One of our sends whose Lambda dies between WeCom's answer and the msgid write (still in flight)."""
    with pytest.raises(RuntimeError):
        create.create_campaign(CRASHING, {"external_userid": ["c0_0"], "text": {"content": text}}, None)


@pytest.mark.usefixtures("sim", "sync_queue")
def test_a_young_corp_task_waits_for_its_sender() -> None:
    crash_after_wecom_answered("in flight")  # its task is listed before its msgid is stored
    summary = fanout.run_due(
        SYNC_DEPS, 60, now=int(time.time())
    )  # after the task: list_v2's window ends at now
    assert summary["tasks_deferred"] == 1 and summary["tasks_ingested"] == 0


@pytest.mark.usefixtures("sync_queue")
def test_a_console_task_created_just_before_a_run_is_listed_after_it(sim: SimulatorHandle) -> None:
    crash_after_wecom_answered("ours, other content")  # an own send in flight does not block
    console = sim_control(
        sim, "groupmsg/admin_task", {"creator": "u0", "external_userid": ["c0_1"], "text": {"content": "hi"}}
    )
    summary = fanout.run_due(SYNC_DEPS, 60, now=int(time.time()))  # the very next scheduled run

    assert summary["tasks_ingested"] == 1 and summary["tasks_deferred"] == 1
    status, listed = call_json(function_under_test("AdminFunction"), "GET", "/admin/campaigns")
    assert status == 200
    ext_id = ingest.external_campaign_id(console["msgid"])
    (shown,) = [c for c in listed["items"] if c["campaign_id"] == ext_id]
    assert shown["origin"] == "admin_console"


@pytest.mark.usefixtures("sync_queue")
def test_a_task_whose_msgid_write_was_lost_is_linked_back(sim: SimulatorHandle) -> None:
    with pytest.raises(RuntimeError):
        create.create_campaign(
            CRASHING, {"external_userid": ["c2_0", "c2_1"], "text": {"content": "lost"}}, None
        )
    (task,) = requests.get(f"{sim.url}/__sim/groupmsg", timeout=5).json()

    summary = fanout.run_due(SYNC_DEPS, 60, now=int(time.time()) + ingest.SETTLE_S + 1)

    assert summary["tasks_linked"] == 1 and summary["tasks_ingested"] == 0
    owner = campaign_repo.get_msgid_owner(task["msgid"])
    assert owner["linked_by"] == "repair" and not owner["campaign_id"].startswith("ext-")


def test_tasks_before_2020_11_17_are_synced_from_send_results_alone(
    sim: SimulatorHandle, sync_queue: Any
) -> None:
    old = sim_control(
        sim, "groupmsg/admin_task", {"creator": "u3", "create_type": 1, "create_time": 1_600_000_000}
    )
    members_send(sim, old["msgid"], ["u3"], c3_0="limit_reached")
    row = {"msgid": old["msgid"], "creator": "u3", "create_time": "1600000000", "create_type": 1}
    assert ingest._store_external(SYNC_DEPS, row, "single", int(time.time()))

    (summary,) = sync_round(sync_queue, int(time.time()))

    assert summary["outcome"] == "synced"
    assert api_calls(sim, "get_groupmsg_task") == 0
    campaign = campaign_repo.get_campaign(ingest.external_campaign_id(old["msgid"]))
    assert campaign["totals"] == ground_truth(sim, old["msgid"])


# ----------------------------------------------------------------------------------------------- admin reads
@pytest.fixture
def admin_get() -> Any:
    admin = function_under_test("AdminFunction")

    def get(path: str, query: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        parts = path.split("/")
        event = http_event("GET", path, query, None, {}, {"campaign_id": parts[3]})
        answer = admin(event)
        headers = answer.get("headers", {})
        text = answer.get("body") or ""
        doc = json.loads(text) if headers.get("Content-Type", "").startswith("application/json") else text
        return answer["statusCode"], headers, doc

    return get


@pytest.mark.usefixtures("moto_table")
def test_admin_serves_totals_members_and_paged_filtered_results(
    sim: SimulatorHandle, sync_queue: Any, admin_get: Any
) -> None:
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, ["u0", "u2"], c2_1="not_friend", c2_2="limit_reached")
    sync_round(sync_queue, int(time.time()))
    base = f"/admin/campaigns/{campaign_id}"

    status, _, shown = admin_get(base)
    assert status == 200 and shown["totals"] == ground_truth(sim, msgid)
    by_member = {m["userid"]: m for m in shown["members"]}
    assert by_member["u2"]["customers"] == {"sent": 3, "unsent": 0, "not_friend": 1, "limit_reached": 1}
    assert by_member["u2"]["sent_rate"] == 0.6 and by_member["u1"]["status"] == "unsent"
    assert shown["sync"][0]["msgid"] == msgid and shown["sync"][0]["sync_state"] == "active"

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        _, _, page = admin_get(f"{base}/results", {"limit": "7", **({"cursor": cursor} if cursor else {})})
        assert len(page["items"]) <= 7
        seen += page["items"]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert len(seen) == len(MEMBERS) * PER_MEMBER
    assert len({r["external_userid"] for r in seen}) == len(seen)  # no row twice across pages
    _, _, sent = admin_get(f"{base}/results", {"status": "not_friend"})
    assert [r["external_userid"] for r in sent["items"]] == ["c2_1"]
    _, _, mine = admin_get(f"{base}/results", {"member": "u0"})
    assert {r["status"] for r in mine["items"]} == {"sent"} and len(mine["items"]) == PER_MEMBER

    status, headers, text = admin_get(f"{base}/results", {"format": "csv", "limit": "15"})
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    lines = text.strip().split("\n")
    assert lines[0] == "msgid,userid,external_userid,chat_id,status,send_time" and len(lines) == 16
    assert "X-Next-Cursor" in headers
    _, _, whole = admin_get(f"{base}/results", {"format": "csv", "status": "sent"})
    times = [line.split(",")[5] for line in whole.strip().split("\n")[1:]]
    assert len(times) == 2 * PER_MEMBER - 2  # u0's five, u2's three
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", t) for t in times), times
    for query, field in (
        ({"status": "gone"}, "status"),
        ({"cursor": "nope"}, "cursor"),
        ({"format": "xml"}, "format"),
    ):
        status, _, error = admin_get(f"{base}/results", query)
        assert status == 400 and error["error"]["field"] == field


def test_campaigns_show_prints_the_funnel_and_the_member_table(sim: SimulatorHandle, sync_queue: Any) -> None:
    campaign_id, msgid = new_campaign()
    members_send(sim, msgid, ["u3"], c3_0="not_friend")
    sync_round(sync_queue, int(time.time()))
    text = describe(queries.get_campaign(DEPS, campaign_id), lambda: UTC)
    assert "members: 4" in text
    u3 = next(line for line in text.splitlines() if line.startswith("u3"))
    assert u3.split()[1] == "sent" and u3.rstrip().endswith("80.0%")
