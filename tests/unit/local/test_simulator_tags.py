"""The simulator's mark_tag (WeCom's rules, tags on the customer) and its loss callbacks (del_follow_user,
del_external_contact: the model changes, the event is pushed encrypted like an add)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.wecom_sim import SimulatorConfig, start_simulator
from local.wecom_sim.server import SimulatorHandle
from tests.unit.local.test_simulator import AES_KEY, CORP_ID, SECRET, TOKEN, Api, Receiver

MARK_TAG = "externalcontact/mark_tag"


@pytest.fixture(scope="module")
def handle() -> Iterator[SimulatorHandle]:
    config = SimulatorConfig(CORP_ID, SECRET, callback_token=TOKEN, encoding_aes_key=AES_KEY)
    with start_simulator(config) as running:
        yield running


@pytest.fixture
def api(handle: SimulatorHandle) -> Iterator[Api]:
    client = Api(handle.url)
    client.control("POST", "reset")
    client.control(
        "POST",
        "contacts",
        {
            "members": ["zhangsan", "lisi"],
            "customers": [
                {"external_userid": "wmA1", "owner": "zhangsan"},
                {"external_userid": "wmB1", "owner": "lisi"},
            ],
        },
    )
    yield client
    client.http.close()


def _tags(api: Api, ext: str) -> list[str]:
    customers = api.control("GET", "contacts")["customers"]
    return next(c["tags"] for c in customers if c["external_userid"] == ext)


def test_mark_tag_puts_library_tags_on_the_members_customer(api: Api) -> None:
    body = {"userid": "zhangsan", "external_userid": "wmA1", "add_tag": ["etTagVip", "etTagExpo"]}
    assert api.err(MARK_TAG, body) == 0
    assert api.err(MARK_TAG, body) == 0  # adding a tag the customer has is no error
    assert _tags(api, "wmA1") == ["etTagVip", "etTagExpo"]
    assert (
        api.err(MARK_TAG, {"userid": "zhangsan", "external_userid": "wmA1", "remove_tag": ["etTagVip"]}) == 0
    )
    assert _tags(api, "wmA1") == ["etTagExpo"]


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"external_userid": "wmA1", "add_tag": ["etTagVip"]}, 41009),
        ({"userid": "zhangsan", "add_tag": ["etTagVip"]}, 41035),
        ({"userid": "zhangsan", "external_userid": "wmA1"}, 40058),
        ({"userid": "zhangsan", "external_userid": "wmA1", "add_tag": "etTagVip"}, 40058),
        ({"userid": "nobody", "external_userid": "wmA1", "add_tag": ["etTagVip"]}, 40003),
        ({"userid": "zhangsan", "external_userid": "wmB1", "add_tag": ["etTagVip"]}, 84061),
        ({"userid": "zhangsan", "external_userid": "wmGone", "add_tag": ["etTagVip"]}, 84061),
        ({"userid": "zhangsan", "external_userid": "wmA1", "add_tag": ["etTagVip", "etNoSuch"]}, 40068),
    ],
)
def test_mark_tag_refusals_change_nothing(api: Api, body: dict[str, Any], errcode: int) -> None:
    assert api.err(MARK_TAG, body) == errcode
    assert _tags(api, "wmA1") == [] and _tags(api, "wmB1") == []


def test_the_tag_library_is_seeded_and_extensible(api: Api) -> None:
    assert set(api.control("GET", "tags")) == {"etTagVip", "etTagExpo", "etTagLead"}
    api.control("POST", "tags", {"tags": {"etSpring": "Spring"}, "remove": ["etTagLead"]})
    assert api.control("GET", "tags") == {"etTagVip": "VIP", "etTagExpo": "Expo", "etSpring": "Spring"}
    body = {"userid": "zhangsan", "external_userid": "wmA1", "add_tag": ["etTagLead"]}
    assert api.err(MARK_TAG, body) == 40068
    api.control("POST", "tags", {"tags": {"": "x"}}, expect=400)


@pytest.mark.parametrize("kind", ["del_follow_user", "del_external_contact"])
def test_loss_pushes_end_the_friendship_and_decrypt_like_wecom(api: Api, kind: str) -> None:
    receiver = Receiver()
    try:
        _push_loss_and_check(api, receiver, kind)
    finally:
        receiver.close()


def _push_loss_and_check(api: Api, receiver: Receiver, kind: str) -> None:
    body = {
        "userid": "zhangsan",
        "external_userid": "wmA1",
        "callback_url": receiver.url,
        "create_time": 1764921600,
    }
    if kind == "del_external_contact":
        body["source"] = "DELETE_BY_TRANSFER"
    pushed = api.control("POST", f"callbacks/{kind}", body)
    assert pushed["delivered"] is True
    (event,) = receiver.events
    expected = {
        "ToUserName": CORP_ID,
        "FromUserName": "sys",
        "CreateTime": "1764921600",
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": kind,
        "UserID": "zhangsan",
        "ExternalUserID": "wmA1",
    }
    if kind == "del_external_contact":
        expected["Source"] = "DELETE_BY_TRANSFER"
    assert event == expected
    customers = {c["external_userid"] for c in api.control("GET", "contacts")["customers"]}
    assert customers == {"wmB1"}
    assert (
        api.err(MARK_TAG, {"userid": "zhangsan", "external_userid": "wmA1", "add_tag": ["etTagVip"]}) == 84061
    )


def test_loss_push_needs_the_pair(api: Api) -> None:
    api.control("POST", "callbacks/del_follow_user", {"userid": "zhangsan"}, expect=400)
    answer = api.control("POST", "callbacks/del_follow_user", {"userid": "lisi", "external_userid": "wmA1"})
    assert answer["pushed"] is False  # no callback URL: nothing pushed
    assert {c["external_userid"] for c in api.control("GET", "contacts")["customers"]} == {"wmA1", "wmB1"}
