"""Result sync end to end: the local stack (ResultSyncFunction → SQS → ResultSyncWorkerFunction → DynamoDB,
the simulator as WeCom) driven over real HTTP, read back through the admin API and ``wecomctl``.

The issue's "done when": totals equal the simulator's ground truth for several campaigns at once, tasks
created in the admin console show up, and an unchanged re-sync writes nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import requests

from local.stack import StackHandle
from tests.e2e.test_wecomctl_e2e import Cli
from tests.support import DynamoWrites
from wecom_bundle.dynamo import client as dynamo_client
from wecom_bundle.result_sync import ingest
from wecom_bundle.result_sync.totals import STATUS_NAMES

pytestmark = pytest.mark.e2e
MEMBERS = [f"rs{m}" for m in range(4)]


def sim(stack: StackHandle, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(method, f"{stack.simulator.url}/__sim/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def ground_truth(stack: StackHandle, msgids: list[str]) -> dict[str, Any]:
    members: Counter[str] = Counter()
    customers: Counter[str] = Counter()
    for msgid in msgids:
        task = sim(stack, "GET", f"groupmsg/{msgid}")
        members.update("sent" if m["status"] == 2 else "unsent" for m in task["members"])
        customers.update(STATUS_NAMES[r["status"]] for m in task["members"] for r in m["recipients"])
    return {
        "members": {k: members[k] for k in ("sent", "unsent")},
        "customers": {name: customers[name] for name in STATUS_NAMES.values()},
    }


def campaign(stack: StackHandle, campaign_id: str) -> dict[str, Any]:
    answer = requests.get(f"{stack.api_url}/admin/campaigns/{campaign_id}", timeout=30)
    answer.raise_for_status()
    return answer.json()


def run_sync_and_wait(stack: StackHandle, campaign_ids: list[str], timeout: float = 60) -> None:
    """Fire the scheduled function, then wait for the queue's worker to have synced every campaign."""
    before = {cid: sync_state(stack, cid) for cid in campaign_ids}
    answer = requests.post(f"{stack.api_url}/__local/invoke/ResultSyncFunction", timeout=120)
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = {cid: sync_state(stack, cid) for cid in campaign_ids}
        if all(_synced_after(before[cid], now[cid]) for cid in campaign_ids):
            return
        time.sleep(0.3)
    raise AssertionError(f"not synced within {timeout}s: {now}")


def sync_state(stack: StackHandle, campaign_id: str) -> list[dict[str, Any]] | None:
    """The campaign's per-msgid sync state; None while it does not exist (a task not ingested yet)."""
    answer = requests.get(f"{stack.api_url}/admin/campaigns/{campaign_id}", timeout=30)
    return None if answer.status_code == 404 else answer.json()["sync"]


def _synced_after(before: list[dict[str, Any]] | None, now: list[dict[str, Any]] | None) -> bool:
    old = {s["msgid"]: s.get("last_synced_at") for s in before or []}
    return (
        now is not None
        and bool(now)
        and all(
            s.get("last_synced_at") is not None and s.get("last_synced_at") != old.get(s["msgid"])
            for s in now
        )
    )


@pytest.fixture(scope="module")
def world(local_stack: StackHandle) -> dict[str, Any]:
    """Three campaigns through the admin API and two tasks created outside the product, members sending."""
    stack = local_stack
    sim(stack, "POST", "reset")
    customers = [
        {"external_userid": f"rsc{m}_{i}", "name": f"rs{m}{i}", "owner": member}
        for m, member in enumerate(MEMBERS)
        for i in range(30)
    ]
    sim(stack, "POST", "contacts", {"members": MEMBERS, "customers": customers})
    created: dict[str, list[str]] = {}
    for n, owners in enumerate(([0, 1], [1, 2, 3], [0, 3])):
        ids = [f"rsc{m}_{i}" for m in owners for i in range(30)]
        answer = requests.post(
            f"{stack.api_url}/admin/campaigns",
            json={"name": f"rs-{n}", "external_userid": ids, "text": {"content": f"offer {n}"}},
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        created[answer.json()["campaign_id"]] = answer.json()["msgids"]
    old = int(time.time()) - ingest.SETTLE_S - 60  # created in the console a while ago
    console = sim(
        stack,
        "POST",
        "groupmsg/admin_task",
        {"creator": "rs2", "external_userid": ["rsc2_0", "rsc2_1", "rsc2_2"], "create_time": old},
    )
    member = sim(stack, "POST", "groupmsg/admin_task", {"creator": "rs3", "create_type": 1})
    for external in (console["msgid"], member["msgid"]):
        created[ingest.external_campaign_id(external)] = [external]
    msgids = [m for ms in created.values() for m in ms]
    sim(stack, "POST", f"groupmsg/{msgids[0]}/send", {"userids": ["rs0"], "customer_status": {"rsc0_3": 2}})
    sim(
        stack,
        "POST",
        f"groupmsg/{msgids[1]}/send",
        {"userids": ["rs1", "rs3"], "customer_status": {"rsc3_9": 3}},
    )
    sim(stack, "POST", f"groupmsg/{console['msgid']}/send", {})
    sim(stack, "POST", f"groupmsg/{member['msgid']}/send", {"customer_status": {"rsc3_1": 2}})
    run_sync_and_wait(stack, list(created))
    return {"campaigns": created, "console": console["msgid"]}


def test_totals_equal_the_simulators_ground_truth_for_every_campaign(
    local_stack: StackHandle, world: dict[str, Any]
) -> None:
    for campaign_id, msgids in world["campaigns"].items():
        shown = campaign(local_stack, campaign_id)
        assert shown["totals"] == ground_truth(local_stack, msgids), campaign_id
        customers = sum(m["customers"].get("sent", 0) for m in shown["members"])
        assert customers == shown["totals"]["customers"]["sent"]


def test_console_and_member_tasks_show_up_as_campaigns(
    local_stack: StackHandle, world: dict[str, Any]
) -> None:
    listed = requests.get(f"{local_stack.api_url}/admin/campaigns", params={"limit": 100}, timeout=30).json()
    origins = {c["campaign_id"]: c["origin"] for c in listed["items"]}
    console_id = ingest.external_campaign_id(world["console"])
    assert origins[console_id] == "admin_console"
    assert sorted(origins.values()).count("member") == 1
    assert campaign(local_stack, console_id)["status"] == "completed"


def test_cancel_of_a_completed_campaign_is_a_409_and_changes_nothing(
    local_stack: StackHandle, world: dict[str, Any]
) -> None:
    console_id = ingest.external_campaign_id(world["console"])
    assert campaign(local_stack, console_id)["status"] == "completed"
    cancels = requests.get(
        f"{local_stack.simulator.url}/__sim/calls", params={"path": "cancel_groupmsg_send"}, timeout=30
    ).json()
    answer = requests.post(f"{local_stack.api_url}/admin/campaigns/{console_id}/cancel", timeout=30)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "invalid_state", answer.text
    assert campaign(local_stack, console_id)["status"] == "completed"
    after = requests.get(
        f"{local_stack.simulator.url}/__sim/calls", params={"path": "cancel_groupmsg_send"}, timeout=30
    ).json()
    assert after == cancels  # WeCom untouched


def result_calls(stack: StackHandle) -> int:
    """How many get_groupmsg_send_result calls the simulator has answered so far."""
    answer = requests.get(
        f"{stack.simulator.url}/__sim/calls", params={"path": "get_groupmsg_send_result"}, timeout=30
    )
    return len(answer.json())


def test_unchanged_resync_pulls_no_results_and_writes_only_the_schedule(
    local_stack: StackHandle, world: dict[str, Any]
) -> None:
    time.sleep(1.1)  # fresh msgids are due again at the next run, one second later
    pending = [
        cid for cid, _ in world["campaigns"].items() if campaign(local_stack, cid)["status"] != "completed"
    ]
    results_before = result_calls(local_stack)
    writes = DynamoWrites().install(dynamo_client.client())
    writes_before = writes.items
    run_sync_and_wait(local_stack, pending)
    results_after = result_calls(local_stack)
    msgids = sum(len(world["campaigns"][cid]) for cid in pending)
    assert results_after == results_before
    assert writes.items - writes_before == 2 * msgids  # claim + finish per msgid, nothing else


def funnel_counts(text: str) -> dict[str, int]:
    """The customer stages of ``campaigns show``'s funnel ("customers  N", then "  sent  n  x%" ...)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("customers"))
    counts = {}
    for line in lines[start + 1 : start + 5]:
        name, count = line.split()[:2]
        counts[name] = int(count)
    return counts


def test_wecomctl_shows_the_funnel_and_members(local_stack: StackHandle, world: dict[str, Any]) -> None:
    cli = Cli(local_stack)
    campaign_id, msgids = next(iter(world["campaigns"].items()))
    shown = cli("campaigns", "show", campaign_id)
    assert shown.code == 0, shown.err
    truth = ground_truth(local_stack, msgids)
    assert funnel_counts(shown.out) == truth["customers"]
    assert "members: 2" in shown.out and "rs0" in shown.out and "rs1" in shown.out
    listed = cli("campaigns", "results", campaign_id, "--status", "not_friend")
    assert listed.code == 0 and "rsc0_3" in listed.out


@pytest.mark.usefixtures("world")
def test_day_rule_a_customer_sent_once_today_is_capped(
    local_stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14's "done when" (its customer half): with MASS_SEND_CUSTOMER_LIMIT=day, ten customers sent one
    message by their member and synced show it as ``sent`` and are capped, through the API and wecomctl."""
    stack = local_stack
    monkeypatch.setenv("MASS_SEND_CUSTOMER_LIMIT", "day")  # the stack's functions run in this process
    sim(stack, "POST", "customer_limit", {"rule": "day"})
    try:
        ids = [f"rsday{i}" for i in range(10)]
        sim(stack, "POST", "contacts", {"customers": [{"external_userid": e, "owner": "rs0"} for e in ids]})
        answer = requests.post(
            f"{stack.api_url}/admin/campaigns",
            json={"external_userid": ids, "text": {"content": "today only"}},
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        (msgid,) = answer.json()["msgids"]
        sim(stack, "POST", f"groupmsg/{msgid}/send", {"userids": ["rs0"]})
        run_sync_and_wait(stack, [answer.json()["campaign_id"]])

        shown = requests.get(f"{stack.api_url}/admin/customers/rsday3", timeout=30).json()
        assert [(m["msgid"], m["status"]) for m in shown["mass_messages"]] == [(msgid, "sent")]
        assert shown["quota"] | {"period": "-"} == {
            "rule": "day", "limit": 1, "period": "-", "received": 1, "pending": 0, "remaining": 0,
            "capped": True,
        }  # fmt: skip
        printed = Cli(stack)("customers", "show", "rsday3")
        assert printed.code == 0, printed.err
        assert "quota: 1/1 received" in printed.out and "CAPPED" in printed.out and msgid in printed.out
    finally:
        sim(stack, "POST", "customer_limit", {"rule": "month"})
