"""Channels on the callback path, through CallbackFunction, moto's DynamoDB and the WeCom simulator over HTTP:
the channel's welcome ahead of the rules, tags after the welcome, the day counters, losses, hostile fields."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from local.events import callback_post_event
from local.settings import DEV_DEFAULTS
from local.wecom_sim.server import SimulatorHandle
from tests.support import function_under_test, put_channel_record, table_snapshot
from wecom_bundle import runtime
from wecom_bundle.channels.lookup import ChannelLookup
from wecom_bundle.channels.stats import COUNTERS
from wecom_bundle.welcome import repo as welcome_repo
from wecom_bundle.welcome.claim import event_key

ENV = {
    k: DEV_DEFAULTS[k]
    for k in ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
}
EXPO_WELCOME = {"text": {"content": "Welcome from the expo booth"}, "attachments": []}


@pytest.fixture
def sim(moto_table: Any, wecom_sim: SimulatorHandle) -> SimulatorHandle:  # noqa: ARG001
    """A rule that matches the State ``expo`` (priority 100) and a default rule: a channel must beat both."""
    for rule_id, match, text in (
        ("expo-rule", {"state": "expo"}, "rule for expo"),
        ("default", {}, "default rule"),
    ):
        welcome_repo.put_rule(
            {
                "rule_id": rule_id,
                "priority": 100 if match else 0,
                "match": match,
                "text": {"content": text},
                "attachments": [],
            }
        )
    return wecom_sim


@pytest.fixture
def handler(aws_env: dict[str, str]) -> Any:  # noqa: ARG001
    return function_under_test("CallbackFunction")


def _arrival(sim: SimulatorHandle, ext: str, state: str = "expo", *, code: bool = True) -> dict[str, Any]:
    """The simulator makes the member's new customer (and the welcome code): the event's fields."""
    answer = requests.post(
        f"{sim.url}/__sim/callbacks/add_external_contact",
        json={"userid": "zhangsan", "external_userid": ext, "state": state, "with_welcome_code": code},
        timeout=5,
    )
    answer.raise_for_status()
    return dict(answer.json()["fields"])


def _loss(sim: SimulatorHandle, kind: str, ext: str, **extra: Any) -> dict[str, Any]:
    answer = requests.post(
        f"{sim.url}/__sim/callbacks/{kind}",
        json={"userid": "zhangsan", "external_userid": ext, **extra},
        timeout=5,
    )
    answer.raise_for_status()
    return dict(answer.json()["fields"])


def _deliver(handler: Any, fields: dict[str, Any]) -> dict[str, Any]:
    return dict(handler(callback_post_event(ENV, fields)))


def _calls(sim: SimulatorHandle, path: str = "") -> list[dict[str, Any]]:
    return list(requests.get(f"{sim.url}/__sim/calls", params={"path": path}, timeout=5).json())


def _customer_tags(sim: SimulatorHandle, ext: str) -> list[str]:
    customers = requests.get(f"{sim.url}/__sim/contacts", timeout=5).json()["customers"]
    return next(c["tags"] for c in customers if c["external_userid"] == ext)


def _totals(channel_id: str) -> dict[str, int]:
    return dict(runtime.channel_stats_reader()(channel_id, time.time())["totals"])


def _counts(**given: int) -> dict[str, int]:
    return {name: given.get(name, 0) for name in COUNTERS}


# ------------------------------------------------------------------------------------------ the welcome
def test_channel_welcome_beats_a_matching_rule(sim: SimulatorHandle, handler: Any) -> None:
    put_channel_record("expo", welcome=EXPO_WELCOME)
    fields = _arrival(sim, "wmAnna")
    assert _deliver(handler, fields)["statusCode"] == 200
    (delivered,) = sim.state.delivered_welcomes()
    assert delivered["body"]["text"] == {"content": "Welcome from the expo booth"}
    record = welcome_repo.get_welcome(event_key(ENV["WECOM_CORP_ID"], fields))
    assert (record["outcome"], record["rule_id"], record["state"]) == ("sent", "channel:expo", "expo")


def test_rules_still_apply_to_a_state_that_is_no_channel(sim: SimulatorHandle, handler: Any) -> None:
    put_channel_record("expo", welcome=EXPO_WELCOME)
    fields = _arrival(sim, "wmBen", state="web")
    assert _deliver(handler, fields)["statusCode"] == 200
    assert sim.state.delivered_welcomes()[0]["body"]["text"] == {"content": "default rule"}
    assert welcome_repo.get_welcome(event_key(ENV["WECOM_CORP_ID"], fields))["rule_id"] == "default"


def test_a_gone_channel_falls_back_to_the_rules_and_does_nothing_more(
    sim: SimulatorHandle, handler: Any
) -> None:
    put_channel_record("expo", welcome=EXPO_WELCOME, tags=["etTagExpo"], status="gone")
    fields = _arrival(sim, "wmCara")
    assert _deliver(handler, fields)["statusCode"] == 200
    assert sim.state.delivered_welcomes()[0]["body"]["text"] == {"content": "rule for expo"}
    assert _calls(sim, "mark_tag") == []
    assert _totals("expo") == _counts()


def test_a_channel_without_a_welcome_gets_the_rules_welcome_and_its_tags(
    sim: SimulatorHandle, handler: Any
) -> None:
    put_channel_record("expo", tags=["etTagExpo"])
    _deliver(handler, _arrival(sim, "wmDora"))
    assert sim.state.delivered_welcomes()[0]["body"]["text"] == {"content": "rule for expo"}
    assert _customer_tags(sim, "wmDora") == ["etTagExpo"]
    assert _totals("expo") == _counts(added=1, welcomed=1, tagged=1)


def test_a_failing_channel_read_does_not_lose_the_welcome(
    sim: SimulatorHandle, handler: Any, caplog: pytest.LogCaptureFixture
) -> None:
    put_channel_record("expo", welcome=EXPO_WELCOME, tags=["etTagExpo"])

    def unreadable(_channel_id: str) -> dict[str, Any]:
        raise ConnectionError("DynamoDB unreachable")

    with runtime.overriding(channel_lookup=ChannelLookup(load=unreadable)):
        assert _deliver(handler, _arrival(sim, "wmEmil"))["statusCode"] == 200
    assert sim.state.delivered_welcomes()[0]["body"]["text"] == {"content": "rule for expo"}
    (warning,) = [r for r in caplog.records if r.getMessage() == "channel lookup failed; welcome rules apply"]
    assert getattr(warning, "error", None) == "ConnectionError"


# ------------------------------------------------------------------------------------------ tags
def test_tags_go_on_after_the_welcome(sim: SimulatorHandle, handler: Any) -> None:
    put_channel_record("expo", welcome=EXPO_WELCOME, tags=["etTagExpo", "etTagLead"])
    assert _deliver(handler, _arrival(sim, "wmFay"))["statusCode"] == 200
    paths = [call["path"].rsplit("/", 1)[-1] for call in _calls(sim)]
    assert paths.count("send_welcome_msg") == paths.count("mark_tag") == 1
    assert paths.index("send_welcome_msg") < paths.index("mark_tag")
    (tagging,) = _calls(sim, "mark_tag")
    assert tagging["body"] == {
        "userid": "zhangsan",
        "external_userid": "wmFay",
        "add_tag": ["etTagExpo", "etTagLead"],
    }
    assert _customer_tags(sim, "wmFay") == ["etTagExpo", "etTagLead"]
    assert _totals("expo") == _counts(added=1, welcomed=1, tagged=1)


def test_an_event_without_a_welcome_code_is_still_counted_and_tagged(
    sim: SimulatorHandle, handler: Any
) -> None:
    put_channel_record("expo", welcome=EXPO_WELCOME, tags=["etTagExpo"])
    fields = _arrival(sim, "wmGus", code=False)
    assert _deliver(handler, fields)["statusCode"] == 200
    assert sim.state.delivered_welcomes() == []
    assert _customer_tags(sim, "wmGus") == ["etTagExpo"]
    assert _totals("expo") == _counts(added=1, tagged=1)


def test_a_refused_tag_is_counted_and_logged_with_its_errcode(
    sim: SimulatorHandle, handler: Any, caplog: pytest.LogCaptureFixture
) -> None:
    put_channel_record("expo", welcome=EXPO_WELCOME, tags=["etTagDeletedLongAgo"])
    assert _deliver(handler, _arrival(sim, "wmHal"))["statusCode"] == 200
    assert len(sim.state.delivered_welcomes()) == 1
    assert [call["errcode"] for call in _calls(sim, "mark_tag")] == [40068]  # final: never retried
    assert _totals("expo") == _counts(added=1, welcomed=1, tag_failed=1)
    (failed,) = [r for r in caplog.records if r.getMessage() == "channel tags failed"]
    assert (failed.channel_id, failed.errcode, failed.attempts) == ("expo", 40068, 1)  # type: ignore[attr-defined]
    assert "wmHal" not in json.dumps(vars(failed), default=str)


def test_transient_tag_faults_are_retried(sim: SimulatorHandle, handler: Any) -> None:
    put_channel_record("expo", tags=["etTagVip"])
    requests.post(
        f"{sim.url}/__sim/faults", json={"path": "mark_tag", "errcode": -1, "times": 2}, timeout=5
    ).raise_for_status()
    _deliver(handler, _arrival(sim, "wmIda"))
    assert [call["errcode"] for call in _calls(sim, "mark_tag")] == [-1, -1, 0]
    assert _customer_tags(sim, "wmIda") == ["etTagVip"]
    assert _totals("expo") == _counts(added=1, welcomed=1, tagged=1)


# ------------------------------------------------------------------------------------------ counting once
def test_retried_deliveries_count_and_tag_once(sim: SimulatorHandle, handler: Any) -> None:
    put_channel_record("expo", welcome=EXPO_WELCOME, tags=["etTagExpo"])
    fields = _arrival(sim, "wmJon")
    for _ in range(3):  # WeCom's three tries of one event
        assert _deliver(handler, fields)["statusCode"] == 200
    assert len(_calls(sim, "send_welcome_msg")) == len(_calls(sim, "mark_tag")) == 1
    assert _totals("expo") == _counts(added=1, welcomed=1, tagged=1)


def test_stats_after_adds_retries_and_losses(sim: SimulatorHandle, handler: Any) -> None:
    put_channel_record("expo", welcome=EXPO_WELCOME, tags=["etTagExpo"])
    put_channel_record("fair")
    for ext in ("wmK1", "wmK2", "wmK3"):
        fields = _arrival(sim, ext)
        _deliver(handler, fields)
        _deliver(handler, fields)  # a retry
    _deliver(handler, _arrival(sim, "wmK4", state="fair", code=False))
    loss = _loss(sim, "del_follow_user", "wmK1")  # the customer deleted the member
    for _ in range(2):
        assert _deliver(handler, loss)["statusCode"] == 200  # and WeCom retried it
    assert _deliver(handler, _loss(sim, "del_external_contact", "wmK1"))["statusCode"] == 200  # same pair
    assert _deliver(handler, _loss(sim, "del_external_contact", "wmK2"))["statusCode"] == 200
    transfer = _loss(sim, "del_external_contact", "wmK3", source="DELETE_BY_TRANSFER")
    assert _deliver(handler, transfer)["statusCode"] == 200  # a handover, not a loss
    assert _deliver(handler, _loss(sim, "del_follow_user", "wmNeverViaChannel"))["statusCode"] == 200

    assert _totals("expo") == _counts(added=3, welcomed=3, tagged=3, lost=2)
    assert _totals("fair") == _counts(added=1)
    stats = runtime.channel_stats_reader()("expo", time.time())
    assert len(stats["days"]) == 30
    assert stats["days"][-1] == {
        "date": stats["days"][-1]["date"],
        **_counts(added=3, welcomed=3, tagged=3, lost=2),
    }
    assert [day["date"] for day in stats["days"]] == sorted(day["date"] for day in stats["days"])


def test_a_customer_who_comes_back_through_the_channel_counts_again(
    sim: SimulatorHandle, handler: Any
) -> None:
    put_channel_record("expo")
    first = _arrival(sim, "wmLea")
    _deliver(handler, first)
    _deliver(handler, _loss(sim, "del_follow_user", "wmLea"))
    again = _arrival(sim, "wmLea")
    again["CreateTime"] = int(first["CreateTime"]) + 1  # a later event (the simulator's clock is in seconds)
    _deliver(handler, callback_fields_with_code(sim, again))
    later = int(again["CreateTime"]) + 1
    _deliver(handler, _loss(sim, "del_external_contact", "wmLea", create_time=later))
    assert _totals("expo") == _counts(added=2, welcomed=2, lost=2)


def callback_fields_with_code(sim: SimulatorHandle, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with a welcome code minted for its (possibly moved) CreateTime."""
    from local.wecom_sim.endpoints_welcome import issue_welcome_code

    with sim.state.lock:
        code = issue_welcome_code(
            sim.state, "zhangsan", str(fields["ExternalUserID"]), int(fields["CreateTime"])
        )
    return {**fields, "WelcomeCode": code}


# ------------------------------------------------------------------------------------------ hostile fields
HOSTILE_LOSSES = {
    "missing_external_userid": ("ExternalUserID", None),
    "missing_userid": ("UserID", None),
    "missing_create_time": ("CreateTime", None),
    "ext_with_key_separator": ("ExternalUserID", "wmM1#USER#zhangsan"),
    "user_with_newline": ("UserID", "zhang\nsan"),
    "create_time_exponent": ("CreateTime", "1.7e9"),
    "source_with_line_separator": ("Source", "DELETE_BY_TRANSFER\u2028"),
    "source_too_long": ("Source", "S" * 65),
}


def test_loss_callbacks_with_hostile_fields_are_refused_and_store_nothing(
    sim: SimulatorHandle, handler: Any, moto_table: Any
) -> None:
    """Each hostile field of both loss callbacks, after one arrival (one table for all: none may change it)."""
    put_channel_record("expo")
    _deliver(handler, _arrival(sim, "wmM1"))
    before = table_snapshot(moto_table)
    for kind in ("del_follow_user", "del_external_contact"):
        for name, (field, value) in sorted(HOSTILE_LOSSES.items()):
            fields = {**_loss(sim, kind, "wmM1")}
            if value is None:
                del fields[field]
            else:
                fields[field] = value
            answer = _deliver(handler, fields)
            assert (answer["statusCode"], answer["body"]) == (400, f"invalid event field: {field}"), (
                kind,
                name,
            )
            assert table_snapshot(moto_table) == before, (kind, name)
    assert _totals("expo")["lost"] == 0
