"""The instant welcome over real HTTP: WeCom simulator → local gateway → CallbackFunction → simulator.

The simulator encrypts, signs and pushes callbacks exactly as WeCom does (and retries when no 200 comes
within its timeout); the admin API is driven over HTTP too.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e
# moto's server keeps its tables for the whole pytest process: ids unique to this run keep tests independent
RUN = uuid.uuid4().hex[:6]
# The rule cache off, so each test sees exactly the rules it put.
STACK_ENVIRON = {"WELCOME_RULES_CACHE_SECONDS": "0"}


@pytest.fixture
def stack(local_stack: Any) -> Any:
    requests.post(f"{local_stack.simulator.url}/__sim/reset", timeout=5).raise_for_status()
    for rule in requests.get(f"{local_stack.api_url}/admin/welcome-rules", timeout=5).json()["items"]:
        requests.delete(f"{local_stack.api_url}/admin/welcome-rules/{rule['rule_id']}", timeout=5)
    return local_stack


def _sent(stack: Any) -> list[dict[str, Any]]:
    """send_welcome_msg calls WeCom accepted (a rejected token, answered 40014, is refreshed and retried)."""
    calls = requests.get(f"{stack.simulator.url}/__sim/calls", params={"path": "send_welcome_msg"}, timeout=5)
    return [c for c in calls.json() if c["errcode"] == 0]


def _put_rule(stack: Any, rule_id: str, body: dict[str, Any]) -> None:
    answer = requests.put(f"{stack.api_url}/admin/welcome-rules/{rule_id}", json=body, timeout=5)
    assert answer.status_code in (200, 201), answer.text


def _add(stack: Any, **body: Any) -> dict[str, Any]:
    answer = requests.post(
        f"{stack.simulator.url}/__sim/callbacks/add_external_contact", json=body, timeout=30
    )
    answer.raise_for_status()
    return answer.json()


def _welcomes(stack: Any, **query: str) -> list[dict[str, Any]]:
    return requests.get(f"{stack.api_url}/admin/welcomes", params=query, timeout=5).json()["items"]


def _settled_welcomes(stack: Any, external_userid: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The welcome log of one customer once its outcome is recorded: a callback that WeCom stopped waiting
    for keeps running in the gateway, so its record appears whenever that run ends (later on a busy box)."""
    deadline = time.monotonic() + timeout
    while not (records := _welcomes(stack, external_userid=external_userid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return records


def test_url_verification_through_the_gateway(stack: Any) -> None:
    answer = requests.post(f"{stack.simulator.url}/__sim/callbacks/verify_url", json={}, timeout=10).json()
    assert answer["ok"] is True
    assert answer["within_deadline"] is True
    assert answer["body"] == answer["expected"]


def test_right_rule_reaches_send_welcome_msg(stack: Any) -> None:
    _put_rule(stack, "default", {"priority": 0, "text": {"content": "Hello!"}})
    _put_rule(
        stack,
        "expo",
        {
            "priority": 10,
            "match": {"state_prefix": "expo-"},
            "text": {"content": "%NICKNAME%, welcome to our booth"},
        },
    )
    _put_rule(
        stack,
        "vip-lisi",
        {
            "priority": 20,
            "match": {"userid": f"lisi{RUN}", "state": "vip"},
            "text": {"content": "Dear %NICKNAME%"},
            "attachments": [{"msgtype": "link", "link": {"title": "VIP", "url": "https://example.com"}}],
        },
    )
    expo = _add(
        stack, userid="zhangsan", external_userid=f"wmExpo1{RUN}", name="Ann", state=f"expo-shanghai{RUN}"
    )
    vip = _add(stack, userid=f"lisi{RUN}", external_userid=f"wmVip1{RUN}", name="Bo", state="vip")
    plain = _add(stack, userid=f"lisi{RUN}", external_userid=f"wmPlain1{RUN}", name="Cy", state="web")
    assert all(a["delivered"] for a in (expo, vip, plain))
    welcomes = requests.get(f"{stack.simulator.url}/__sim/welcomes", timeout=5).json()
    delivered = {w["external_userid"]: w for w in welcomes}
    assert delivered[f"wmExpo1{RUN}"]["body"]["text"]["content"] == "Ann, welcome to our booth"
    assert delivered[f"wmExpo1{RUN}"]["body"]["welcome_code"] == expo["welcome_code"]
    assert delivered[f"wmVip1{RUN}"]["body"]["text"]["content"] == "Dear Bo"
    assert delivered[f"wmVip1{RUN}"]["body"]["attachments"][0]["msgtype"] == "link"
    assert delivered[f"wmPlain1{RUN}"]["body"]["text"]["content"] == "Hello!"
    log = {r["external_userid"]: r for r in _welcomes(stack, limit="100")}
    assert (log[f"wmExpo1{RUN}"]["rule_id"], log[f"wmExpo1{RUN}"]["outcome"]) == ("expo", "sent")
    assert (log[f"wmVip1{RUN}"]["rule_id"], log[f"wmPlain1{RUN}"]["rule_id"]) == ("vip-lisi", "default")
    assert all(0 <= log[f"{ext}{RUN}"]["latency_ms"] < 5000 for ext in ("wmExpo1", "wmVip1", "wmPlain1"))
    assert {r["external_userid"] for r in _welcomes(stack, userid=f"lisi{RUN}")} == {
        f"wmPlain1{RUN}",
        f"wmVip1{RUN}",
    }
    assert [r["external_userid"] for r in _welcomes(stack, state=f"expo-shanghai{RUN}")] == [f"wmExpo1{RUN}"]


def test_retried_callback_sends_once(stack: Any) -> None:
    _put_rule(stack, "default", {"text": {"content": "Hi"}})
    first = _add(stack, userid="zhangsan", external_userid=f"wmRetry{RUN}", state="web")
    again = requests.post(
        f"{stack.simulator.url}/__sim/callbacks/raw", json={"fields": first["fields"]}, timeout=30
    ).json()
    assert again["delivered"] is True  # answered 200 "success" ...
    assert len(_sent(stack)) == 1  # ... and nothing was sent twice
    assert [r["outcome"] for r in _welcomes(stack, external_userid=f"wmRetry{RUN}")] == ["sent"]


def test_slow_welcome_makes_wecom_retry_and_still_sends_once(stack: Any) -> None:
    _put_rule(stack, "default", {"text": {"content": "Hi"}})
    requests.post(
        f"{stack.simulator.url}/__sim/faults", json={"path": "send_welcome_msg", "delay_ms": 1500}, timeout=5
    ).raise_for_status()
    pushed = _add(stack, userid="zhangsan", external_userid=f"wmSlow{RUN}", state="web", timeout=0.5)
    assert len(pushed["attempts"]) >= 2  # WeCom gave up waiting and retried
    assert [r["outcome"] for r in _settled_welcomes(stack, f"wmSlow{RUN}")] == ["sent"]
    assert len(_sent(stack)) == 1


def test_41096_then_delivered(stack: Any) -> None:
    _put_rule(stack, "default", {"text": {"content": "Hi"}})
    requests.post(
        f"{stack.simulator.url}/__sim/faults",
        json={"path": "send_welcome_msg", "errcode": 41096, "times": 2},
        timeout=5,
    ).raise_for_status()
    _add(stack, userid="zhangsan", external_userid=f"wm41096{RUN}", state="web")
    record = _welcomes(stack, external_userid=f"wm41096{RUN}")[0]
    assert (record["outcome"], record["attempts"]) == ("sent", 3)


def test_no_rule_and_no_code(stack: Any) -> None:
    _add(stack, userid="zhangsan", external_userid=f"wmNoRule{RUN}", state="web")
    assert _welcomes(stack, external_userid=f"wmNoRule{RUN}")[0]["outcome"] == "no_rule"
    pushed = _add(
        stack, userid="zhangsan", external_userid=f"wmNoCode{RUN}", state="web", with_welcome_code=False
    )
    assert pushed["delivered"] is True
    assert _welcomes(stack, external_userid=f"wmNoCode{RUN}") == []


def test_bad_requests_over_http_are_4xx(stack: Any) -> None:
    url = f"{stack.api_url}/callback"
    assert requests.get(url, timeout=5).status_code == 400
    bad_sig = requests.post(
        url,
        params={"msg_signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "n"},
        data=b"<xml><Encrypt>QUJD</Encrypt></xml>",
        timeout=5,
    )
    assert bad_sig.status_code == 401
    huge = requests.post(
        url,
        params={"msg_signature": "0", "timestamp": "1", "nonce": "n"},
        data=b"<xml>" + b"A" * 70_000 + b"</xml>",
        timeout=5,
    )
    assert huge.status_code == 413
    doctype = requests.post(
        url,
        params={"msg_signature": "0", "timestamp": "1", "nonce": "n"},
        data=b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>',
        timeout=5,
    )
    assert doctype.status_code == 400
