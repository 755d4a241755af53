"""Property: a validly signed callback, whatever its field values, never gets a 5xx, never makes more than one
``send_welcome_msg`` call for its event (even when WeCom delivers it again), and an accepted add-contact event
with a welcome code always leaves an outcome record.

Through the real CallbackFunction handler (one warm container for all examples), moto's DynamoDB and the
WeCom simulator over HTTP. Field values range from what WeCom sends to anything XML can carry: ids of any
length and character, CreateTime spelt every way, unknown extra fields, other event types.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.events import callback_post_event
from local.settings import DEV_DEFAULTS
from local.wecom_sim.endpoints_welcome import issue_welcome_code
from tests.support import function_under_test
from wecom_bundle.callback import fields as callback_fields
from wecom_bundle.welcome import repo as welcome_repo
from wecom_bundle.welcome.claim import event_key

CORP = DEV_DEFAULTS["WECOM_CORP_ID"]
ENV = {
    k: DEV_DEFAULTS[k]
    for k in ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
}
ADD = {"MsgType": "event", "Event": "change_external_contact", "ChangeType": "add_external_contact"}
FINAL_OUTCOMES = {"sent", "already_sent", "expired", "failed", "no_rule"}
MINTED = "<minted>"  # stands for a welcome code the simulator issued for this very event

# Any character XML 1.0 can carry (the event is XML inside the ciphertext).
xml_char = st.characters(blacklist_categories=("Cs",)).filter(
    lambda c: c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff")
)
any_text = st.text(xml_char, max_size=80) | st.text(xml_char, min_size=60, max_size=2500)
usual_id = st.from_regex(r"[A-Za-z0-9_.@-]{1,40}", fullmatch=True)
ids = usual_id | any_text | st.sampled_from(["a#b", "#", " x", "x\n", "\x85", "\u2028", "客户"])


def _spellings(now: int) -> st.SearchStrategy[str]:
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    near = st.integers(now - 40, now + 40)
    return (
        near.map(str)
        | near.map(lambda t: f"0{t}")
        | near.map(lambda t: f" {t}")
        | near.map(lambda t: str(t).translate(full_width))
        | near.map(lambda t: f"{t}.0")
        | st.integers(-(10**30), 10**30).map(str)
        | st.integers(1, 2**32 + 10).map(str)
        | st.sampled_from(["", "0", "-1", "1.5e9", "abc", "NaN", "9" * 400])
        | any_text
    )


NOW = int(time.time())
events = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(
            [ADD] * 6 + [{**ADD, "ChangeType": "del_external_contact"}, {"MsgType": "text"}]
        ),
        "UserID": ids,
        "ExternalUserID": ids,
        "CreateTime": _spellings(NOW),
        "State": st.none() | any_text,
        "WelcomeCode": st.sampled_from([MINTED, MINTED, MINTED, None]) | any_text,
        "extra": st.dictionaries(st.from_regex(r"X[A-Za-z0-9_]{0,8}", fullmatch=True), any_text, max_size=3),
        "delivered_twice": st.booleans(),
    }
)


@pytest.fixture
def handler(moto_table: Any, wecom_sim: Any) -> Any:  # noqa: ARG001
    welcome_repo.put_rule(
        {
            "rule_id": "default",
            "priority": 0,
            "match": {},
            "text": {"content": "Hi %NICKNAME%"},
            "attachments": [],
        }
    )
    return function_under_test("CallbackFunction")


def _fields(example: dict[str, Any], sim: Any) -> dict[str, str | int]:
    fields: dict[str, str | int] = {"ToUserName": CORP, "FromUserName": "sys", **example["extra"]}
    fields |= example["kind"]
    for name in ("UserID", "ExternalUserID", "CreateTime", "State", "WelcomeCode"):
        if example[name] is not None:
            fields[name] = example[name]
    if example["WelcomeCode"] == MINTED:
        spelt = str(example["CreateTime"])
        create_time = int(spelt) if spelt.isascii() and spelt.isdigit() and len(spelt) < 12 else NOW
        with sim.state.lock:
            fields["WelcomeCode"] = issue_welcome_code(
                sim.state, example["UserID"], example["ExternalUserID"], create_time
            )
    return fields


def _send_calls(sim: Any) -> int:
    calls = requests.get(f"{sim.url}/__sim/calls", params={"path": "send_welcome_msg"}, timeout=5).json()
    return len(calls["calls"] if isinstance(calls, dict) else calls)


def _normalised(fields: dict[str, str | int]) -> dict[str, str | int] | None:
    """The event as the callback sees it once validated, or None when a field breaks its rule."""
    try:
        return callback_fields.normalise({name: str(value) for name, value in fields.items()})
    except callback_fields.EventFieldError:
        return None


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(example=events)
def test_signed_callbacks_with_any_fields(handler: Any, wecom_sim: Any, example: dict[str, Any]) -> None:
    fields = _fields(example, wecom_sim)
    before = _send_calls(wecom_sim)
    statuses = [handler(callback_post_event(ENV, fields))["statusCode"]]
    if example["delivered_twice"]:  # WeCom's retry: the same event, encrypted and signed anew
        statuses.append(handler(callback_post_event(ENV, fields))["statusCode"])
    assert all(status in (200, 400) for status in statuses), statuses  # never a 5xx
    assert len(set(statuses)) == 1  # a retry is answered like the first delivery
    assert _send_calls(wecom_sim) - before <= 1  # one event, at most one send_welcome_msg
    event = _normalised(fields)
    assert statuses[0] == (400 if event is None else 200)  # refused exactly when a field breaks its rule
    if event is None:
        assert _send_calls(wecom_sim) == before  # a refused event sends nothing
    elif event.get("ChangeType") == "add_external_contact" and event.get("WelcomeCode"):
        record = welcome_repo.get_welcome(event_key(CORP, event))
        assert record is not None and record["outcome"] in FINAL_OUTCOMES
