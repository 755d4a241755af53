"""Issue 14's "Done when", end to end: the local stack with ``MASS_SEND_CUSTOMER_LIMIT=day`` (one mass message
per customer per day), over real HTTP, the simulator as WeCom.

A campaign to ten customers is sent by the member and synced; ``GET /admin/customers/<one of them>`` shows the
message as ``sent`` with ``quota.capped`` true; a preview of a campaign to those ten plus ten others reports
``capped`` 10 (through the API and ``wecomctl campaigns preview``); creating it with ``skip_capped`` sends
WeCom exactly the other ten (the simulator's received ``add_msg_template`` body), and the campaign keeps who
was skipped.

The simulator runs with the same ``MASS_SEND_CUSTOMER_LIMIT`` the stack is given (``local/stack.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from local.stack import StackHandle
from tests.e2e.test_result_sync_e2e import run_sync_and_wait
from tests.e2e.test_wecomctl_e2e import Cli

pytestmark = pytest.mark.e2e
STACK_ENVIRON = {"MASS_SEND_CUSTOMER_LIMIT": "day"}
MEMBER = "capday"
FIRST = [f"wmCapDay{i:02d}" for i in range(10)]
OTHERS = [f"wmCapDay{i:02d}" for i in range(10, 20)]
TEXT = {"content": "今日特惠"}


def api(stack: StackHandle, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{stack.api_url}{path}", json=body, timeout=60)


def sim(stack: StackHandle, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(method, f"{stack.simulator.url}/__sim/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def sent_bodies(stack: StackHandle) -> list[dict[str, Any]]:
    """The add_msg_template bodies WeCom (the simulator) accepted, oldest first."""
    answer = requests.get(
        f"{stack.simulator.url}/__sim/calls", params={"path": "add_msg_template"}, timeout=30
    )
    return [c["body"] for c in answer.json() if c["errcode"] == 0 and c["http_status"] == 200]


@pytest.fixture(scope="module")
def ten_capped(local_stack: StackHandle) -> dict[str, Any]:
    """Twenty customers of one member; a campaign to the first ten, sent by the member and synced: in day
    mode those ten are capped until midnight."""
    stack = local_stack
    sim(stack, "POST", "reset")
    customers = [{"external_userid": e, "name": e, "owner": MEMBER} for e in FIRST + OTHERS]
    sim(stack, "POST", "contacts", {"members": [MEMBER], "customers": customers})
    answer = api(stack, "POST", "/admin/campaigns", {"name": "day-1", "external_userid": FIRST, "text": TEXT})
    assert answer.status_code == 201, answer.text
    created = answer.json()
    (msgid,) = created["msgids"]
    sim(stack, "POST", f"groupmsg/{msgid}/send", {"userids": [MEMBER]})
    run_sync_and_wait(stack, [created["campaign_id"]])
    return {"campaign_id": created["campaign_id"], "msgid": msgid}


def test_a_synced_customer_shows_the_message_sent_and_is_capped(
    local_stack: StackHandle, ten_capped: dict[str, Any]
) -> None:
    answer = api(local_stack, "GET", f"/admin/customers/{FIRST[0]}")
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["external_userid"] == FIRST[0]
    ours = [m for m in doc["mass_messages"] if m["msgid"] == ten_capped["msgid"]]
    assert [(m["campaign_id"], m["userid"], m["status"]) for m in ours] == [
        (ten_capped["campaign_id"], MEMBER, "sent")
    ]
    quota = doc["quota"]
    assert (quota["rule"], quota["limit"], quota["received"], quota["remaining"]) == ("day", 1, 1, 0)
    assert quota["capped"] is True
    assert api(local_stack, "GET", f"/admin/customers/{OTHERS[0]}").json()["quota"]["capped"] is False


@pytest.mark.usefixtures("ten_capped")
def test_the_preview_reports_the_ten_capped(local_stack: StackHandle, tmp_path: Path) -> None:
    body = {"name": "day-2", "external_userid": FIRST + OTHERS, "text": TEXT}
    before = len(sent_bodies(local_stack))
    answer = api(local_stack, "POST", "/admin/campaigns/preview", body)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert (doc["audience_size"], doc["chunks"]) == (20, 1)
    quota = doc["quota"]
    assert (quota["rule"], quota["limit"], quota["capped"]) == ("day", 1, 10)
    customer = api(local_stack, "GET", f"/admin/customers/{FIRST[0]}").json()["quota"]
    assert quota["period"] == customer["period"]  # one period, whichever way its id is written
    assert sorted(quota["capped_sample"]) == FIRST
    skipping = api(local_stack, "POST", "/admin/campaigns/preview", {**body, "skip_capped": True}).json()
    assert (skipping["audience_size"], skipping["chunks"], skipping["quota"]["capped"]) == (10, 1, 10)
    assert len(sent_bodies(local_stack)) == before  # a preview calls nothing in WeCom

    audience = tmp_path / "audience.txt"
    audience.write_text("\n".join(FIRST + OTHERS) + "\n", encoding="utf-8")
    shown = Cli(local_stack)("campaigns", "preview", "--text", TEXT["content"], "--audience", str(audience))
    assert shown.code == 0, shown.err
    lines = [line.split(":", 1) for line in shown.out.splitlines() if ":" in line]
    printed = {k.strip(): v.strip() for k, v in lines}
    assert (printed["audience"], printed["capped"]) == ("20", "10")


@pytest.mark.usefixtures("ten_capped")
def test_skip_capped_sends_exactly_the_other_ten(local_stack: StackHandle) -> None:
    body = {"name": "day-2", "external_userid": FIRST + OTHERS, "text": TEXT, "skip_capped": True}
    answer = requests.post(
        f"{local_stack.api_url}/admin/campaigns",
        json=body,
        headers={"Idempotency-Key": "cap-day-2"},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["skipped_capped"] == 10 and len(created["msgids"]) == 1
    assert sent_bodies(local_stack)[-1]["external_userid"] == OTHERS
    shown = api(local_stack, "GET", f"/admin/campaigns/{created['campaign_id']}").json()
    assert (shown["skipped_capped"], shown["audience_size"]) == (10, 10)
    skipped = api(local_stack, "GET", f"/admin/campaigns/{created['campaign_id']}/skipped").json()
    assert skipped == {"items": FIRST, "cursor": None}
    replay = requests.post(
        f"{local_stack.api_url}/admin/campaigns",
        json=body,
        headers={"Idempotency-Key": "cap-day-2"},
        timeout=60,
    )
    assert (replay.status_code, replay.json()) == (200, created)
    assert [b["external_userid"] for b in sent_bodies(local_stack)].count(OTHERS) == 1  # nothing sent twice
