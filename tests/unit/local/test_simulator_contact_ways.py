"""The simulator's 「联系我」 contact ways over real HTTP: WeCom's rules and errcodes, the list's windows and
pages, a real QR image, and add-contact events pushed through a code (the event carries its state)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.wecom_sim import SimulatorConfig, start_simulator
from local.wecom_sim.server import SimulatorHandle

CORP_ID, SECRET = "wwsimtest0000001", "sim-test-secret"
DAY = 24 * 3600


@pytest.fixture(scope="module")
def handle() -> Iterator[SimulatorHandle]:
    config = SimulatorConfig(CORP_ID, SECRET, "simtoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    with start_simulator(config) as running:
        yield running


class Ways:
    """The five contact-way APIs with a token, and the control API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        params = {"corpid": CORP_ID, "corpsecret": SECRET}
        self.token = self.http.get(f"{url}/cgi-bin/gettoken", params=params, timeout=5).json()["access_token"]

    def call(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.url}/cgi-bin/externalcontact/{name}_contact_way"
        answer = self.http.post(url, params={"access_token": self.token}, json=body, timeout=5)
        assert answer.status_code == 200
        return dict(answer.json())

    def add(self, **body: Any) -> dict[str, Any]:
        return self.call("add", {"type": 1, "scene": 2, "user": ["zhangsan"], **body})

    def control(self, path: str, body: Any = None, expect: int = 200) -> Any:
        answer = self.http.post(f"{self.url}/__sim/{path}", json=body, timeout=5)
        assert answer.status_code == expect, answer.text
        return answer.json()


@pytest.fixture
def ways(handle: SimulatorHandle) -> Iterator[Ways]:
    requests.post(f"{handle.url}/__sim/reset", timeout=5).raise_for_status()
    client = Ways(handle.url)
    client.control("contacts", {"members": ["zhangsan", "lisi"]})
    yield client
    client.http.close()


REFUSALS = [
    ({"type": None}, 41037),
    ({"type": 3}, 41039),
    ({"scene": None}, 41038),
    ({"scene": 9}, 41040),
    ({"user": ["zhangsan", "lisi"]}, 40058),  # type 1: exactly one member
    ({"type": 2, "user": [f"u{i}" for i in range(101)]}, 41041),
    ({"user": ["nobody"]}, 40003),
    ({"user": []}, 41009),
    ({"state": "s" * 31}, 40058),
    ({"remark": "备" * 31}, 40058),
    ({"skip_verify": "yes"}, 40058),
]


@pytest.mark.parametrize(("change", "errcode"), REFUSALS)
def test_add_keeps_wecoms_rules(ways: Ways, change: dict[str, Any], errcode: int) -> None:
    body = {"type": 1, "scene": 2, "user": ["zhangsan"], **change}
    assert ways.call("add", {k: v for k, v in body.items() if v is not None})["errcode"] == errcode


def test_add_get_update_delete(ways: Ways) -> None:
    added = ways.add(state="expo", remark="备" * 30)
    assert added["errcode"] == 0 and added["qr_code"].endswith(f"/__sim/qr/{added['config_id']}.png")
    image = requests.get(added["qr_code"], timeout=5)
    assert image.headers["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG\r\n\x1a\n")
    way = ways.call("get", {"config_id": added["config_id"]})["contact_way"]
    assert (way["type"], way["scene"], way["user"], way["state"], way["skip_verify"]) == (
        1,
        2,
        ["zhangsan"],
        "expo",
        True,
    )
    assert (
        ways.call("update", {"config_id": added["config_id"], "user": ["zhangsan", "lisi"]})["errcode"]
        == 40058
    )
    assert (
        ways.call("update", {"config_id": added["config_id"], "remark": "", "skip_verify": False})["errcode"]
        == 0
    )
    way = ways.call("get", {"config_id": added["config_id"]})["contact_way"]
    assert (way["remark"], way["skip_verify"], way["state"]) == ("", False, "expo")
    assert ways.call("del", {"config_id": added["config_id"]})["errcode"] == 0
    assert ways.call("del", {"config_id": added["config_id"]})["errcode"] == 41044
    assert ways.call("get", {})["errcode"] == 41043
    assert requests.get(added["qr_code"], timeout=5).status_code == 404


def test_list_pages_and_refuses_a_span_over_90_days(ways: Ways, handle: SimulatorHandle) -> None:
    made = [ways.add(state=f"s{i}")["config_id"] for i in range(3)]
    now = int(handle.state.now())
    listed, cursor, pages = [], "", 0
    while True:
        page = ways.call("list", {"start_time": now - DAY, "end_time": now + 1, "limit": 2, "cursor": cursor})
        listed += [row["config_id"] for row in page["contact_way"]]
        cursor, pages = page["next_cursor"], pages + 1
        if not cursor:
            break
    assert sorted(listed) == sorted(made) and pages == 2
    assert ways.call("list", {})["contact_way"] != []  # defaults: the last 90 days
    assert ways.call("list", {"start_time": now - 91 * DAY, "end_time": now})["errcode"] == 40058
    assert ways.call("list", {"start_time": now - 2 * DAY, "end_time": now - DAY})["contact_way"] == []
    assert ways.call("list", {"cursor": "forged"})["errcode"] == 50100


def test_an_add_event_through_a_code_carries_its_state(ways: Ways) -> None:
    code = ways.call("add", {"type": 2, "scene": 2, "user": ["zhangsan", "lisi"], "state": "expo"})
    pushed = ways.control(
        "callbacks/add_external_contact", {"config_id": code["config_id"], "external_userid": "wmX"}
    )
    assert (pushed["fields"]["State"], pushed["fields"]["UserID"]) == ("expo", "zhangsan")
    assert pushed["welcome_code"] and pushed["pushed"] is False  # no callback URL configured
    body = {"config_id": code["config_id"], "external_userid": "wmY", "userid": "lisi"}
    assert ways.control("callbacks/add_external_contact", body)["fields"]["UserID"] == "lisi"
    wrong = {"config_id": code["config_id"], "external_userid": "wmZ", "userid": "wangwu"}
    ways.control("callbacks/add_external_contact", wrong, expect=400)
    ways.control(
        "callbacks/add_external_contact", {"config_id": "nope", "external_userid": "wmZ"}, expect=400
    )
    contacts = ways.http.get(f"{ways.url}/__sim/contacts", timeout=5).json()["customers"]
    assert {c["external_userid"]: c["add_state"] for c in contacts} == {"wmX": "expo", "wmY": "expo"}
