"""Campaigns end to end: the local stack (gateway → AdminFunction / ReminderFunction → DynamoDB, simulator)
over real HTTP, as an operator and WeCom would see it.

The issue's "done when": a 25 000-customer campaign becomes 3 WeCom tasks whose msgids and fail_lists are
stored; replaying the request creates nothing new; reminders stop at 3 per msgid per 24 h; cancel reaches
WeCom for every msgid; bad bodies get 400s and cause no WeCom call; a scheduled campaign is created once.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from local.stack import StackHandle

pytestmark = pytest.mark.e2e


def api(stack: StackHandle, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{stack.api_url}{path}", timeout=60, **kwargs)


def sim_calls(stack: StackHandle, suffix: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{stack.simulator.url}/__sim/calls", params={"path": suffix}, timeout=30)
    return [c for c in answer.json() if c["errcode"] == 0 and c["http_status"] == 200]


@pytest.fixture(scope="module")
def audience(local_stack: StackHandle) -> dict[str, list[str]]:
    known = [f"wmE2E{i:05d}" for i in range(24_000)]
    customers = [
        {"external_userid": e, "name": e, "owner": ("zhangsan", "lisi")[i % 2]} for i, e in enumerate(known)
    ]
    requests.post(
        f"{local_stack.simulator.url}/__sim/contacts",
        json={"members": ["zhangsan", "lisi"], "customers": customers},
        timeout=60,
    ).raise_for_status()
    unknown = [f"wmE2EGhost{i:04d}" for i in range(1_000)]
    return {"all": known + unknown, "unknown": unknown}


def test_bad_bodies_are_400s_without_a_wecom_call(local_stack: StackHandle) -> None:
    before = len(sim_calls(local_stack, "add_msg_template"))
    for body, field in [
        ({"external_userid": ["wm1"]}, "text"),
        ({"chat_type": "group", "text": {"content": "x"}}, "sender"),
        (
            {
                "external_userid": ["wm1"],
                "text": {"content": "x"},
                "attachments": [{"msgtype": "link", "link": {}}],
            },
            "attachments[0].link.title",
        ),
    ]:
        answer = api(local_stack, "POST", "/admin/campaigns", json=body)
        assert answer.status_code == 400
        assert answer.json()["error"]["field"] == field
    assert len(sim_calls(local_stack, "add_msg_template")) == before


def test_25000_customers_three_tasks_replay_remind_cancel(
    local_stack: StackHandle, audience: dict[str, list[str]]
) -> None:
    body = {"external_userid": audience["all"], "text": {"content": "e2e 大促"}, "name": "e2e"}
    headers = {"Idempotency-Key": f"e2e-{time.time_ns()}"}
    created = api(local_stack, "POST", "/admin/campaigns", data=json.dumps(body), headers=headers)
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["status"] == "active" and len(doc["msgids"]) == 3
    assert sorted(doc["fail_list"]) == sorted(audience["unknown"])
    ours = [c for c in sim_calls(local_stack, "add_msg_template") if c["body"]["text"] == body["text"]]
    assert [len(c["body"]["external_userid"]) for c in ours] == [10_000, 10_000, 5_000]

    replay = api(local_stack, "POST", "/admin/campaigns", data=json.dumps(body), headers=headers)
    assert (replay.status_code, replay.json()) == (200, doc)
    conflict = api(local_stack, "POST", "/admin/campaigns", json={**body, "name": "other"}, headers=headers)
    assert (conflict.status_code, conflict.json()["error"]["code"]) == (409, "idempotency_conflict")
    assert (
        len([c for c in sim_calls(local_stack, "add_msg_template") if c["body"]["text"] == body["text"]]) == 3
    )

    cid = doc["campaign_id"]
    shown = api(local_stack, "GET", f"/admin/campaigns/{cid}").json()
    assert shown["msgids"] == doc["msgids"] and shown["fail_list_size"] == 1_000
    assert shown["totals"]["members"] == {"sent": 0, "unsent": 0}
    listed = api(local_stack, "GET", "/admin/campaigns", params={"status": "active"}).json()
    assert cid in [c["campaign_id"] for c in listed["items"]]

    for _ in range(3):
        assert api(local_stack, "POST", f"/admin/campaigns/{cid}/remind").status_code == 200
    refused = api(local_stack, "POST", f"/admin/campaigns/{cid}/remind")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "reminder_limit"
    assert refused.json()["error"]["next_allowed_at"] > time.time() + 23 * 3600
    reminded = [c["body"]["msgid"] for c in sim_calls(local_stack, "remind_groupmsg_send")]
    assert sorted(reminded) == sorted(doc["msgids"] * 3)
    assert len(api(local_stack, "GET", f"/admin/campaigns/{cid}").json()["reminders"]) == 9

    cancelled = api(local_stack, "POST", f"/admin/campaigns/{cid}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    cancels = [c["body"]["msgid"] for c in sim_calls(local_stack, "cancel_groupmsg_send")]
    assert sorted(cancels) == sorted(doc["msgids"])
    for msgid in doc["msgids"]:
        task = requests.get(f"{local_stack.simulator.url}/__sim/groupmsg/{msgid}", timeout=30).json()
        assert task["cancelled_at"]

    results = api(local_stack, "GET", f"/admin/campaigns/{cid}/results", params={"format": "csv"})
    assert results.status_code == 200 and results.text.startswith("msgid,")


def test_scheduled_campaign_is_created_once_by_the_reminder_function(
    local_stack: StackHandle, audience: dict[str, list[str]]
) -> None:
    # The customers must be known to the simulator (the audience fixture): with another test order, or
    # this test alone on a worker, WeCom would refuse the task (41048: nobody to send to).
    body = {"external_userid": audience["all"][:2], "text": {"content": f"later {time.time_ns()}"}}
    created = api(local_stack, "POST", "/admin/campaigns", json={**body, "send_at": int(time.time()) + 2})
    assert created.status_code == 201 and created.json()["status"] == "scheduled"
    cid = created.json()["campaign_id"]
    time.sleep(2.5)
    first = api(local_stack, "POST", "/__local/invoke/ReminderFunction")
    assert first.status_code == 200 and first.json()["campaigns_created"] >= 1
    assert api(local_stack, "POST", "/__local/invoke/ReminderFunction").json()["campaigns_claimed"] == 0
    shown = api(local_stack, "GET", f"/admin/campaigns/{cid}").json()
    assert shown["status"] == "active" and len(shown["msgids"]) == 1
    assert (
        len([c for c in sim_calls(local_stack, "add_msg_template") if c["body"]["text"] == body["text"]]) == 1
    )


def test_openapi_lists_the_campaign_routes(local_stack: StackHandle) -> None:
    paths = api(local_stack, "GET", "/admin/openapi.json").json()["paths"]
    assert {"/admin/campaigns", "/admin/campaigns/{campaign_id}/remind"} <= set(paths)
