"""A channel's arrivals over real HTTP: the simulator pushes encrypted add and loss callbacks through the local
gateway; the channel's welcome and tags reach the simulator, and the day's counters say what happened.

The first test makes its channel through the admin API (``PUT /admin/channels/{id}``) and reads its stats
from ``GET``; the second writes the channel item directly (the shared contract) and pushes an explicit State.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from tests.support import put_channel_record
from wecom_bundle import runtime

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]  # moto's server keeps its tables for the whole process: ids unique to this run


def _push(stack: Any, kind: str, **body: Any) -> dict[str, Any]:
    answer = requests.post(f"{stack.simulator.url}/__sim/callbacks/{kind}", json=body, timeout=30)
    answer.raise_for_status()
    pushed = answer.json()
    assert pushed["delivered"] is True, pushed
    return dict(pushed)


def _customer_tags(stack: Any, ext: str) -> list[str]:
    customers = requests.get(f"{stack.simulator.url}/__sim/contacts", timeout=5).json()["customers"]
    return next((c["tags"] for c in customers if c["external_userid"] == ext), [])


def _eventually(read: Any, expected: Any, timeout: float = 30) -> Any:
    """``read()`` once it equals ``expected`` (or its last value at the deadline): a push WeCom stopped
    waiting for (5 s, a busy machine) keeps running in the gateway and finishes later."""
    deadline = time.monotonic() + timeout
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def _channel(stack: Any, channel_id: str) -> dict[str, Any]:
    answer = requests.get(f"{stack.api_url}/admin/channels/{channel_id}", timeout=30)
    answer.raise_for_status()
    return dict(answer.json())


def test_a_channel_made_through_the_api_welcomes_tags_and_counts_its_customers(local_stack: Any) -> None:
    """Issue 15's "done when": PUT a channel, customers scan its code, one of them deletes the member, and
    the channel's GET reports the day's added / welcomed / tagged / lost."""
    channel_id = f"api{RUN}"
    body = {
        "name": "Shanghai expo",
        "members": ["zhangsan"],
        "tags": ["etTagExpo"],
        "welcome": {"text": {"content": "Welcome to the expo!"}},
    }
    members = requests.post(
        f"{local_stack.simulator.url}/__sim/contacts", json={"members": ["zhangsan"]}, timeout=5
    )
    members.raise_for_status()  # WeCom refuses a contact way for someone who is not a member
    put = requests.put(f"{local_stack.api_url}/admin/channels/{channel_id}", json=body, timeout=30)
    assert put.status_code == 201, put.text
    channel = put.json()
    assert channel["config_id"] and channel["qr_code"].startswith("http")

    customers = [f"wmExpo{RUN}{i}" for i in range(2)]
    codes = []
    for ext in customers:
        added = _push(
            local_stack, "add_external_contact", config_id=channel["config_id"], external_userid=ext
        )
        assert added["fields"]["State"] == channel_id
        codes.append(added["welcome_code"])
    delivered = local_stack.simulator.state.delivered_welcomes()
    welcomed = [w["body"]["text"]["content"] for w in delivered if w["welcome_code"] in codes]
    assert welcomed == ["Welcome to the expo!"] * 2
    assert [_customer_tags(local_stack, ext) for ext in customers] == [["etTagExpo"]] * 2

    _push(local_stack, "del_follow_user", userid="zhangsan", external_userid=customers[0])
    _push(local_stack, "del_follow_user", userid="zhangsan", external_userid=customers[0])  # a retry: once
    expected = {"added": 2, "welcomed": 2, "tagged": 2, "tag_failed": 0, "lost": 1}
    stats = _eventually(lambda: _channel(local_stack, channel_id)["stats"]["totals"], expected)
    assert stats == expected
    today = _channel(local_stack, channel_id)["stats"]["days"][-1]
    assert {k: today[k] for k in expected} == expected


def test_a_customer_through_a_channel_is_welcomed_tagged_and_counted_then_lost(local_stack: Any) -> None:
    channel_id = f"expo{RUN}"
    put_channel_record(
        channel_id,
        welcome={"text": {"content": "Welcome to the expo!"}, "attachments": []},
        tags=["etTagExpo"],
    )
    ext = f"wmExpo{RUN}"
    added = _push(
        local_stack, "add_external_contact", userid="zhangsan", external_userid=ext, state=channel_id
    )
    welcomed = [
        w
        for w in local_stack.simulator.state.delivered_welcomes()
        if w["welcome_code"] == added["welcome_code"]
    ]
    assert [w["body"]["text"]["content"] for w in welcomed] == ["Welcome to the expo!"]
    assert _customer_tags(local_stack, ext) == ["etTagExpo"]  # the callback answered after tagging

    _push(local_stack, "del_follow_user", userid="zhangsan", external_userid=ext)
    expected = {"added": 1, "welcomed": 1, "tagged": 1, "tag_failed": 0, "lost": 1}
    totals = _eventually(lambda: runtime.channel_stats_reader()(channel_id, time.time())["totals"], expected)
    assert totals == expected
