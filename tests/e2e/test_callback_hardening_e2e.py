"""Hostile callbacks over real HTTP: WeCom simulator (or a replaying attacker) → local gateway → CallbackFunction.

Issue 12, items 1-4, as an attacker and a skewed clock would try them against `make run`: a captured POST
replayed as URL verification, signed events with odd fields, a CreateTime in the future, other spellings of
one CreateTime. Each is answered without a 5xx, sends nothing it should not, and leaves the right log entry.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from local.events import add_contact_fields, signed_callback_query
from local.settings import DEV_DEFAULTS
from wecom_bundle.callback.crypto import MsgCrypto
from wecom_bundle.callback.xml_parser import build_envelope, build_event_xml

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
# The rule cache off; the safety margin leaves 4 s of the code's 20 s, so giving up takes seconds, not 18 s.
STACK_ENVIRON = {"WELCOME_RULES_CACHE_SECONDS": "0", "WELCOME_SAFETY_MARGIN_MS": "16000"}
CRYPTO = MsgCrypto(
    DEV_DEFAULTS["WECOM_CALLBACK_TOKEN"],
    DEV_DEFAULTS["WECOM_ENCODING_AES_KEY"],
    DEV_DEFAULTS["WECOM_CORP_ID"],
)


@pytest.fixture
def stack(local_stack: Any) -> Any:
    requests.post(f"{local_stack.simulator.url}/__sim/reset", timeout=5).raise_for_status()
    answer = requests.put(
        f"{local_stack.api_url}/admin/welcome-rules/default", json={"text": {"content": "Hi"}}, timeout=5
    )
    assert answer.status_code in (200, 201), answer.text
    return local_stack


def _sends(stack: Any) -> list[dict[str, Any]]:
    calls = requests.get(f"{stack.simulator.url}/__sim/calls", params={"path": "send_welcome_msg"}, timeout=5)
    return calls.json()


def _welcomes(stack: Any, external_userid: str) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{stack.api_url}/admin/welcomes", params={"external_userid": external_userid}, timeout=5
    )
    return answer.json()["items"]


def _wait_for_welcome(stack: Any, external_userid: str, within_s: float) -> dict[str, Any]:
    give_up = time.monotonic() + within_s
    while time.monotonic() < give_up:
        found = _welcomes(stack, external_userid)
        if found:
            return found[0]
        time.sleep(0.2)
    pytest.fail(f"no welcome log entry within {within_s} s")


def _push_raw(stack: Any, fields: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(
        f"{stack.simulator.url}/__sim/callbacks/raw", json={"fields": fields, "attempts": 1}, timeout=30
    )
    answer.raise_for_status()
    return answer.json()


# ------------------------------------------------------------------------------ 1. URL verification
def test_captured_post_replayed_as_url_verification_reveals_nothing(stack: Any) -> None:
    fields = add_contact_fields(
        DEV_DEFAULTS, external_userid=f"wmCaptured{RUN}", welcome_code="SECRET-CODE-E2E"
    )
    encrypted = CRYPTO.encrypt(build_event_xml(fields).encode())
    url = f"{stack.api_url}/callback"
    for age_s in (3600, 0):  # an old capture (outside the window), then a fresh one (inside it)
        query = signed_callback_query(CRYPTO, encrypted, int(time.time()) - age_s)
        answer = requests.get(url, params={**query, "echostr": encrypted}, timeout=5)
        assert answer.status_code == 400
        assert "SECRET-CODE-E2E" not in answer.text and "<xml>" not in answer.text
    # the same ciphertext is still a good POST: only its replay as a GET is refused
    body = build_envelope(DEV_DEFAULTS["WECOM_CORP_ID"], encrypted)
    fresh = signed_callback_query(CRYPTO, encrypted)
    assert requests.post(url, params=fresh, data=body.encode(), timeout=10).status_code == 200


def test_url_verification_with_an_xml_echostr_is_refused(stack: Any) -> None:
    checked = requests.post(
        f"{stack.simulator.url}/__sim/callbacks/verify_url",
        json={"echostr": "<xml><WelcomeCode>x</WelcomeCode></xml>"},
        timeout=10,
    ).json()
    assert (checked["status"], checked["ok"]) == (400, False)
    normal = requests.post(f"{stack.simulator.url}/__sim/callbacks/verify_url", json={}, timeout=10).json()
    assert normal["ok"] is True


# ------------------------------------------------------------------------------ 2. odd fields
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ExternalUserID", "wm" + "x" * 2100),
        ("ExternalUserID", "wmOdd#zhangsan"),
        ("UserID", "zhang\nsan"),
        ("CreateTime", "abc"),
        ("CreateTime", "1.5e9"),
        ("CreateTime", "9" * 40),
        ("CreateTime", "-1"),
    ],
)
def test_signed_event_with_odd_field_is_a_4xx_and_sends_nothing(stack: Any, field: str, value: str) -> None:
    fields = add_contact_fields(DEV_DEFAULTS, external_userid=f"wmOdd{RUN}", welcome_code="SIM-CODE")
    pushed = _push_raw(stack, {**fields, field: value})
    assert [(a["status"], a["body"]) for a in pushed["attempts"]] == [(400, f"invalid event field: {field}")]
    assert _sends(stack) == []
    assert _welcomes(stack, f"wmOdd{RUN}") == []


# ------------------------------------------------------------------------------ 3. deadline
def test_future_create_time_gives_up_by_receipt_and_is_recorded(stack: Any) -> None:
    requests.post(
        f"{stack.simulator.url}/__sim/faults",
        json={"path": "send_welcome_msg", "errcode": 41096, "times": 1000},
        timeout=5,
    ).raise_for_status()
    ext = f"wmFuture{RUN}"
    requests.post(
        f"{stack.simulator.url}/__sim/callbacks/add_external_contact",
        json={
            "userid": "zhangsan",
            "external_userid": ext,
            "create_time": int(time.time()) + 3600,
            "async": True,
        },
        timeout=10,
    ).raise_for_status()
    record = _wait_for_welcome(stack, ext, within_s=30)  # ~4 s from receipt; before the fix: an hour
    assert (record["outcome"], record["errcode"]) == ("expired", 41096)
    assert 0 <= record["latency_ms"] < 15_000
    assert len(_sends(stack)) < 30  # backed off over those seconds: no storm


def test_far_future_create_time_is_welcomed_and_logged(stack: Any) -> None:
    ext = f"wmFar{RUN}"
    pushed = requests.post(
        f"{stack.simulator.url}/__sim/callbacks/add_external_contact",
        json={"userid": "zhangsan", "external_userid": ext, "create_time": 2**32 - 1},
        timeout=30,
    ).json()
    assert pushed["delivered"] is True
    record = _wait_for_welcome(stack, ext, within_s=10)
    assert (record["outcome"], record["create_time"]) == ("sent", 2**32 - 1)
    assert 0 <= record["latency_ms"] < 5000


# ------------------------------------------------------------------------------ 4. one event, one key
def test_other_spellings_of_one_create_time_are_refused_not_resent(stack: Any) -> None:
    first = requests.post(
        f"{stack.simulator.url}/__sim/callbacks/add_external_contact",
        json={"userid": "zhangsan", "external_userid": f"wmSpelt{RUN}"},
        timeout=30,
    ).json()
    assert first["delivered"] is True
    spelt = str(first["fields"]["CreateTime"])
    for spelling in (f"0{spelt}", f" {spelt}", f"{spelt}.0"):
        pushed = _push_raw(stack, {**first["fields"], "CreateTime": spelling})
        assert pushed["attempts"][0]["status"] == 400
    assert len([c for c in _sends(stack) if c["errcode"] == 0]) == 1
    assert [r["outcome"] for r in _welcomes(stack, f"wmSpelt{RUN}")] == ["sent"]
