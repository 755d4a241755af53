"""A customer's history and quota from what the result sync stores: counts across our own, admin-console and
member tasks, a row synced twice counted once, unsent → sent moving pending → received, limit_reached
capping, the day rule, batched reads of 10 000 ids, and the admin route (400s, pagination).

Against the WeCom simulator over real HTTP, moto's DynamoDB and moto's SQS (the sync's queue).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from local.wecom_sim.server import SimulatorHandle
from tests.support import Overriding, call_json, campaign_deps, function_under_test, sim_control, sync_deps
from wecom_bundle import runtime
from wecom_bundle.campaigns import create
from wecom_bundle.customers import quota
from wecom_bundle.dynamo import client as dynamo_client
from wecom_bundle.result_sync import fanout, ingest, sync_pass
from wecom_bundle.result_sync import repo as sync_repo
from wecom_bundle.result_sync.queue import SyncMessage

MEMBERS = ("u0", "u1")
CUSTOMERS = {f"c{m}_{i}": f"u{m}" for m in range(len(MEMBERS)) for i in range(3)}
DEPS = campaign_deps()
SYNC = sync_deps(DEPS)


@pytest.fixture
def sim(wecom_sim: SimulatorHandle, sync_queue: tuple[Any, str]) -> SimulatorHandle:  # noqa: ARG001
    customers = [{"external_userid": ext, "name": ext, "owner": owner} for ext, owner in CUSTOMERS.items()]
    sim_control(wecom_sim, "contacts", {"members": list(MEMBERS), "customers": customers})
    return wecom_sim


def our_campaign(ids: list[str]) -> str:
    created = create.create_campaign(DEPS, {"external_userid": ids, "text": {"content": "sale"}}, None)
    return str(created.body["msgids"][0])


def send(sim: SimulatorHandle, msgid: str, userids: list[str], **statuses: str) -> None:
    sim_control(sim, f"groupmsg/{msgid}/send", {"userids": userids, "customer_status": statuses})


def sync_round(sync_queue: tuple[Any, str], later: int = 1, deps: Any = SYNC) -> list[dict[str, Any]]:
    """One scheduled run ``later`` seconds from now (ingest + queue due msgids), then every queued pass.
    From now, not from a time taken before the test's set-up: on a busy machine creating the campaign may
    take longer than ``later``, and its msgid would not be due yet."""
    now = int(time.time()) + later
    fanout.run_due(deps, 60, now=now)
    client, url = sync_queue
    summaries = []
    for _ in range(20):
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return summaries
        for message in messages:
            msg = SyncMessage.decode(message["Body"])
            summaries.append(sync_pass.sync_msgid(deps, msg.msgid, msg.token, deps.budget(120), now=now))
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the queue never drained")


def quota_of(ext: str, now: int | None = None) -> dict[str, Any]:
    return runtime.quota_reader().quota(ext, int(time.time()) if now is None else now)


# ----------------------------------------------------------------------------------------------- counts
def test_counts_cover_our_console_and_member_tasks(sim: SimulatorHandle, sync_queue: Any) -> None:
    ours = our_campaign(["c0_0", "c0_1"])
    console = sim_control(
        sim, "groupmsg/admin_task", {"creator": "u0", "external_userid": ["c0_0"], "text": {"content": "c"}}
    )["msgid"]
    member = sim_control(
        sim, "groupmsg/admin_task", {"creator": "u0", "create_type": 1, "text": {"content": "m"}}
    )["msgid"]
    for msgid in (ours, console, member):
        send(sim, msgid, ["u0"])

    sync_round(sync_queue, ingest.SETTLE_S + 1)

    assert quota_of("c0_0")["received"] == 3  # ours, the console's and the member's own task
    assert quota_of("c0_1")["received"] == 2  # ours and the member's (all of u0's customers)
    assert quota_of("c0_2")["received"] == 1
    view = runtime.customer_history().view("c0_0", {})
    assert sorted(m["msgid"] for m in view["mass_messages"]) == sorted([ours, console, member])
    assert {m["status"] for m in view["mass_messages"]} == {"sent"}
    assert {m["campaign_id"] for m in view["mass_messages"]} >= {ingest.external_campaign_id(console)}


def test_unsent_to_sent_moves_pending_to_received(sim: SimulatorHandle, sync_queue: Any) -> None:
    msgid = our_campaign(["c0_0", "c1_0"])
    sync_round(sync_queue, 1)
    before = quota_of("c0_0")
    assert (before["pending"], before["received"], before["remaining"]) == (1, 0, before["limit"])
    (row,) = runtime.customer_history().view("c0_0", {})["mass_messages"]
    assert (row["status"], row["send_time"], row["userid"]) == ("unsent", None, "u0")

    send(sim, msgid, ["u0"])
    sync_round(sync_queue, 2)

    after = quota_of("c0_0")
    assert (after["pending"], after["received"], after["remaining"]) == (0, 1, after["limit"] - 1)
    assert quota_of("c1_0")["pending"] == 1  # u1 has not sent yet
    assert runtime.cap_check().pending(["c0_0", "c1_0", "c0_1"], int(time.time())) == 1  # customers waiting
    (row,) = runtime.customer_history().view("c0_0", {})["mass_messages"]
    assert row["status"] == "sent" and row["send_time"] is not None
    assert quota_of("c0_0", int(time.time()) + 62 * 86_400)["received"] == 0  # another period counts nothing


def test_a_row_synced_twice_counts_once(sim: SimulatorHandle, sync_queue: Any, moto_table: Any) -> None:
    msgid = our_campaign(["c0_0", "c0_1", "c1_0"])  # u1 does not send: the task stays due
    send(sim, msgid, ["u0"])
    sync_round(sync_queue, 1)
    assert quota_of("c0_0")["received"] == 1
    counters = [_customer_items(moto_table, ext) for ext in ("c0_0", "c1_0")]

    # A pass that did not see the stored rows (a duplicate pass racing the first, a redelivered message
    # after a crash between the counters and the rows) stores and counts every row again.
    blind = Overriding(sync_repo, member_results=lambda *_: [])
    for member in sync_repo.sync_members(msgid):
        sync_repo.put_sync_member(msgid, {**member, "results_pending": True})
    (blind_pass,) = sync_round(sync_queue, 2, deps=sync_deps(DEPS, repo=blind))
    assert blind_pass["rows_written"] == 3 and blind_pass["customer_counter_updates"] == 3

    assert quota_of("c0_0")["received"] == 1 and quota_of("c1_0")["pending"] == 1
    assert [_customer_items(moto_table, ext) for ext in ("c0_0", "c1_0")] == counters


def test_an_unchanged_resync_writes_no_counter(sim: SimulatorHandle, sync_queue: Any) -> None:
    msgid = our_campaign(["c0_0", "c0_1", "c1_0"])
    send(sim, msgid, ["u0"])
    (first,) = sync_round(sync_queue, 1)
    (again,) = sync_round(sync_queue, 2)
    assert first["customer_counter_updates"] == 3
    assert (again["rows_written"], again["customer_counter_updates"]) == (0, 0)


def test_limit_reached_caps_the_customer(sim: SimulatorHandle, sync_queue: Any) -> None:
    now = int(time.time())
    msgid = our_campaign(["c0_0", "c0_1"])
    send(sim, msgid, ["u0"], c0_0="limit_reached")
    sync_round(sync_queue, 1)
    capped = quota_of("c0_0")
    assert (capped["received"], capped["capped"], capped["pending"]) == (0, True, 0)
    assert quota_of("c0_1")["capped"] is False
    reader = runtime.quota_reader()
    assert quota.capped_among(reader, ["c0_1", "c0_0", "nobody", "c0_0"], now) == ["c0_0"]


def test_day_rule_caps_a_customer_with_one_message(
    sim: SimulatorHandle, sync_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASS_SEND_CUSTOMER_LIMIT", "day")
    sim_control(sim, "customer_limit", {"rule": "day"})
    now = int(time.time())
    first = our_campaign(["c0_0"])
    send(sim, first, ["u0"])
    sync_round(sync_queue, 1)
    shown = quota_of("c0_0")
    assert shown["rule"] == "day" and shown["limit"] == 1
    assert (shown["received"], shown["remaining"], shown["capped"]) == (1, 0, True)
    assert quota.capped_among(runtime.quota_reader(), ["c0_1", "c0_0"], now) == ["c0_0"]
    caps = runtime.cap_check()  # what preview and skip_capped ask: the same counters, the same rule
    assert (caps.rule, caps.limit(now), caps.period(now)) == ("day", 1, shown["period"])
    assert caps.capped(["c0_1", "c0_0"], now) == ["c0_0"] and caps.pending(["c0_0", "c0_1"], now) == 0

    second = our_campaign(["c0_0", "c0_1"])  # WeCom refuses the capped one: status 3
    send(sim, second, ["u0"])
    task = requests.get(f"{sim.url}/__sim/groupmsg/{second}", timeout=5).json()
    statuses = {r["target"]: r["status"] for m in task["members"] for r in m["recipients"]}
    assert statuses == {"c0_0": 3, "c0_1": 1}


def _customer_items(table: Any, ext: str) -> list[dict[str, Any]]:
    answer = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"CUST#{ext}"})
    return answer["Items"]


# ----------------------------------------------------------------------------------------------- batches
@pytest.mark.usefixtures("moto_table")
def test_capped_among_10_000_ids_reads_in_batches_of_100_keys() -> None:
    requests_seen: list[int] = []
    client = dynamo_client.client()

    def count(params: dict[str, Any], **_: Any) -> None:
        requests_seen.extend(len(t["Keys"]) for t in params["RequestItems"].values())

    client.meta.events.register("provide-client-params.dynamodb.BatchGetItem", count)
    try:
        ids = [f"wm{i:05d}" for i in range(10_000)]
        assert quota.capped_among(runtime.quota_reader(), ids, int(time.time())) == []
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.BatchGetItem", count)
    assert max(requests_seen) <= 100
    assert sum(requests_seen) >= 10_000  # one month item per customer under the month rule


@pytest.mark.usefixtures("moto_table")
def test_unprocessed_keys_are_asked_again_after_a_pause() -> None:
    from wecom_bundle.dynamo import table

    client = dynamo_client.client()
    pauses: list[float] = []
    asked: list[int] = []

    def throttle_first(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:  # noqa: ARG001
        asked.append(1)
        if len(asked) == 1:
            keys = [{"pk": {"S": "CUST#x"}, "sk": {"S": "QUOTA#2026-12"}}]
            parsed["UnprocessedKeys"] = {table.table_name(): {"Keys": keys}}

    client.meta.events.register("after-call.dynamodb.BatchGetItem", throttle_first)
    try:
        table.batch_get([{"pk": {"S": "CUST#y"}, "sk": {"S": "QUOTA#2026-12"}}], sleep=pauses.append)
    finally:
        client.meta.events.unregister("after-call.dynamodb.BatchGetItem", throttle_first)
    assert len(asked) == 2 and len(pauses) == 1 and 0 < pauses[0] <= 2.0


# ----------------------------------------------------------------------------------------------- the route
@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


@pytest.mark.usefixtures("sim")
def test_route_pages_mass_messages_newest_first(admin: Any, sync_queue: Any) -> None:
    msgids = [our_campaign(["c0_0"]) for _ in range(3)]
    sync_round(sync_queue, 1)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, body = call_json(admin, "GET", "/admin/customers/c0_0", query=query)
        assert status == 200, body
        seen += [m["msgid"] for m in body["mass_messages"]]
        cursor = body["cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(msgids) and len(seen) == 3
    assert body["quota"]["pending"] == 3 and body["external_userid"] == "c0_0"
    # a cursor of one customer's listing is refused on another's
    status, refused = call_json(admin, "GET", "/admin/customers/c0_1", query={"cursor": _first_cursor(admin)})
    assert status == 400 and refused["error"]["field"] == "cursor"


def _first_cursor(admin: Any) -> str:
    _, body = call_json(admin, "GET", "/admin/customers/c0_0", query={"limit": "1"})
    return str(body["cursor"])


@pytest.mark.usefixtures("moto_table")
def test_unknown_customer_is_200_with_a_full_quota(admin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASS_SEND_CUSTOMER_LIMIT", "week")
    status, body = call_json(admin, "GET", "/admin/customers/wmNEVERSEEN")
    assert status == 200, body
    assert body["welcomes"] == [] and body["mass_messages"] == [] and body["cursor"] is None
    assert body["quota"] | {"period": "-"} == {
        "rule": "week",
        "limit": 7,
        "period": "-",
        "received": 0,
        "pending": 0,
        "remaining": 7,
        "capped": False,
    }


@pytest.mark.usefixtures("moto_table")
@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/admin/customers/" + "x" * 129, {}, "external_userid"),
        ("/admin/customers/" + "客" * 43, {}, "external_userid"),  # 43 characters, 129 bytes
        ("/admin/customers/c0_0", {"cursor": "forged.cursor"}, "cursor"),
        ("/admin/customers/c0_0", {"cursor": "x" * 3000}, "cursor"),
        ("/admin/customers/c0_0", {"limit": "0"}, "limit"),
        ("/admin/customers/c0_0", {"limit": "101"}, "limit"),
        ("/admin/customers/c0_0", {"limit": "many"}, "limit"),
    ],
)
def test_route_refuses_bad_input_naming_the_field(admin: Any, path: str, query: Any, field: str) -> None:
    status, body = call_json(admin, "GET", path, query=query)
    assert status == 400, body
    assert body["error"]["field"] == field
    assert "forged" not in body["error"]["message"]
