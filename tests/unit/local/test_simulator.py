"""The WeCom simulator over real HTTP: tokens, welcome codes, validation, faults, mass send, templates, media,
and encrypted callback pushes decrypted by the product's own MsgCrypto."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from local.http_server import QuietThreadingHTTPServer
from local.wecom_sim import SimulatorConfig, start_simulator
from local.wecom_sim.groupmsg import days_in_month, month_key, period_key
from local.wecom_sim.server import SimulatorHandle
from wecom_bundle.callback.crypto import MsgCrypto
from wecom_bundle.callback.xml_parser import parse_envelope, parse_event

CORP_ID = "wwsimtest0000001"
SECRET = "sim-test-secret"
TOKEN = "simtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DAY = 24 * 3600
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
WELCOME = "externalcontact/send_welcome_msg"
ADD = "externalcontact/add_msg_template"
TASK = "externalcontact/get_groupmsg_task"
RESULT = "externalcontact/get_groupmsg_send_result"
LIST = "externalcontact/get_groupmsg_list_v2"
REMIND = "externalcontact/remind_groupmsg_send"
CANCEL = "externalcontact/cancel_groupmsg_send"
TEMPLATE = "externalcontact/group_welcome_template/"
TEXT = {"text": {"content": "x"}}


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handle() -> Iterator[SimulatorHandle]:
    config = SimulatorConfig(CORP_ID, SECRET, callback_token=TOKEN, encoding_aes_key=AES_KEY)
    with start_simulator(config) as running:
        yield running


class Api:
    """A thin client: the WeCom APIs with a token, and the control API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            self._token = self.gettoken()["access_token"]
        return self._token

    def gettoken(self, corpid: str = CORP_ID, secret: str = SECRET) -> dict[str, Any]:
        params = {"corpid": corpid, "corpsecret": secret}
        return self.http.get(f"{self.url}/cgi-bin/gettoken", params=params, timeout=5).json()

    def call(self, method: str, api: str, body: Any, params: dict[str, str]) -> dict[str, Any]:
        """Like the product's client: an expired or unknown token is refreshed once."""
        explicit = "access_token" in params
        url = f"{self.url}/cgi-bin/{api}"
        for _ in range(2):
            query = params if explicit else {**params, "access_token": self.token()}
            response = self.http.request(method, url, params=query, json=body, timeout=10)
            assert response.status_code == 200
            answer = response.json()
            if explicit or answer["errcode"] not in (40014, 42001):
                return answer
            self._token = None
        return answer

    def post(self, api: str, body: dict[str, Any] | None = None, **params: str) -> dict[str, Any]:
        return self.call("POST", api, body or {}, params)

    def get(self, api: str, **params: str) -> dict[str, Any]:
        return self.call("GET", api, None, params)

    def err(self, api: str, body: dict[str, Any] | None = None) -> int:
        """Just the errcode of a POST API."""
        return self.post(api, body)["errcode"]

    def welcome(self, code: str, **content: Any) -> int:
        return self.err(WELCOME, {"welcome_code": code, **(content or TEXT)})

    def create(self, **body: Any) -> str:
        created = self.post(ADD, {**TEXT, **body})
        assert created["errcode"] == 0, created
        return created["msgid"]

    def results(self, msgid: str, userid: str) -> list[dict[str, Any]]:
        return self.post(RESULT, {"msgid": msgid, "userid": userid})["send_list"]

    def upload_raw(self, api: str = "media/upload", **kwargs: Any) -> dict[str, Any]:
        params = {"access_token": self.token(), **kwargs.pop("params", {})}
        return self.http.post(f"{self.url}/cgi-bin/{api}", params=params, timeout=5, **kwargs).json()

    def upload(self, kind: str = "image", data: bytes = PNG, name: str = "a.png") -> str:
        response = self.http.post(
            f"{self.url}/cgi-bin/media/upload",
            params={"access_token": self.token(), "type": kind},
            files={"media": (name, data, "application/octet-stream")},
            timeout=5,
        ).json()
        assert response["errcode"] == 0, response
        assert isinstance(response["created_at"], str)
        return response["media_id"]

    def control(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        response = self.http.request(method, f"{self.url}/__sim/{path}", json=body, timeout=30)
        if expect is not None:
            assert response.status_code == expect, response.text
        else:
            assert response.status_code < 300, response.text
        return response.json()

    def advance(self, seconds: float) -> None:
        self.control("POST", "clock", {"advance": seconds})

    def welcome_code(self, userid: str = "zhangsan", external_userid: str = "wmNew", **extra: Any) -> str:
        body = {"userid": userid, "external_userid": external_userid, **extra}
        return self.control("POST", "callbacks/add_external_contact", body)["welcome_code"]


@pytest.fixture
def api(handle: SimulatorHandle) -> Iterator[Api]:
    client = Api(handle.url)
    client.control("POST", "reset")
    yield client
    client.http.close()


def seed_contacts(api: Api) -> None:
    api.control(
        "POST",
        "contacts",
        {
            "members": [{"userid": "zhangsan", "name": "Zhang San"}, "lisi"],
            "customers": [
                {"external_userid": "wmA1", "name": "Ann", "owner": "zhangsan"},
                {"external_userid": "wmA2", "name": "Amy", "owner": "zhangsan"},
                {"external_userid": "wmB1", "name": "Bob", "owner": "lisi"},
            ],
            "chats": [
                {"chat_id": "wrChat1", "owner": "zhangsan"},
                {"chat_id": "wrChat2", "owner": "zhangsan"},
                {"chat_id": "wrChat3", "owner": "lisi"},
            ],
        },
    )


# -- trusted IP (企业可信IP) ------------------------------------------------------------------------------


def test_trusted_ip_knob_refuses_callers_outside_the_list_with_60020_naming_their_ip(api: Api) -> None:
    assert api.control("GET", "trusted_ips") == {"ips": None, "gettoken": False}
    assert api.control("POST", "trusted_ips", {"ips": ["203.0.113.7"]})["ips"] == ["203.0.113.7"]

    token = api.gettoken()  # exempt by default: the refusal comes with the token's use
    assert token["errcode"] == 0
    refused = api.get("externalcontact/get", external_userid="x", access_token=token["access_token"])
    assert refused["errcode"] == 60020
    assert refused["errmsg"].startswith("not allow to access from your ip, hint: [")
    assert (
        "from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=60020"
        in (refused["errmsg"])
    )

    api.control("POST", "trusted_ips", {"ips": ["203.0.113.7"], "gettoken": True})
    assert api.gettoken()["errcode"] == 60020

    api.control("POST", "trusted_ips", {"ips": ["127.0.0.1"], "gettoken": True})
    assert api.get("externalcontact/get", external_userid="x")["errcode"] == 84061  # trusted: served

    api.control("POST", "trusted_ips", {"ips": ["203.0.113.7"]})
    api.control("POST", "reset")
    assert api.control("GET", "trusted_ips")["ips"] is None
    assert api.get("externalcontact/get", external_userid="x")["errcode"] == 84061


@pytest.mark.parametrize("body", [{"ips": "127.0.0.1"}, {"ips": [1]}, {"ips": None, "gettoken": "yes"}])
def test_trusted_ip_knob_refuses_a_malformed_setting(api: Api, body: dict[str, Any]) -> None:
    api.control("POST", "trusted_ips", body, expect=400)
    assert api.control("GET", "trusted_ips")["ips"] is None


# -- tokens --------------------------------------------------------------------------------------------


def test_gettoken_rejects_bad_credentials(api: Api) -> None:
    assert api.gettoken(corpid="wrong")["errcode"] == 40013
    assert api.gettoken(secret="wrong")["errcode"] == 40001
    assert api.gettoken(corpid="")["errcode"] == 41002
    assert api.gettoken(secret="")["errcode"] == 41004
    assert api.control("GET", "state")["gettoken_calls"] == 4


def test_token_lifecycle_follows_the_simulator_clock(api: Api) -> None:
    first = api.gettoken()
    assert first["errcode"] == 0 and first["expires_in"] == 7200
    again = api.gettoken()
    assert again["access_token"] == first["access_token"], "WeCom returns the same token while it is valid"

    def lookup(token: str) -> int:
        return api.get("externalcontact/get", external_userid="x", access_token=token)["errcode"]

    token = first["access_token"]
    assert lookup(token) == 84061
    api.advance(7200)
    assert lookup(token) == 42001
    fresh = api.gettoken()["access_token"]
    assert fresh != token and lookup(fresh) == 84061
    assert lookup("bogus") == 40014
    assert lookup("") == 41001
    state = api.control("GET", "state")
    assert state["gettoken_calls"] == 3 and state["tokens_issued"] == 2


def test_tokens_can_be_expired_or_revoked_by_control(api: Api) -> None:
    token = api.token()
    api.control("POST", "tokens/expire")
    assert api.get("externalcontact/get", external_userid="x", access_token=token)["errcode"] == 42001
    api.control("POST", "tokens/revoke")
    assert api.get("externalcontact/get", external_userid="x", access_token=token)["errcode"] == 40014


def test_call_log_never_holds_the_secret_or_the_token(api: Api) -> None:
    api.post(WELCOME, {"welcome_code": "nope", "text": {"content": "hi"}})
    calls = api.control("GET", "calls")
    assert [c["path"] for c in calls] == ["/cgi-bin/gettoken", f"/cgi-bin/{WELCOME}"]
    assert "corpsecret" not in calls[0]["query"]
    assert calls[1]["query"]["access_token"] == "***"
    assert calls[1]["body"] == {"welcome_code": "nope", "text": {"content": "hi"}}
    assert calls[1]["errcode"] == 41050 and calls[1]["http_status"] == 200
    assert SECRET not in str(calls) and api.token() not in str(calls)
    assert len(api.control("GET", "calls?path=send_welcome_msg")) == 1


# -- contacts ------------------------------------------------------------------------------------------


def test_external_contact_get(api: Api) -> None:
    seed_contacts(api)
    api.welcome_code("lisi", "wmNew", name="Neo", state="channel-7")
    body = api.get("externalcontact/get", external_userid="wmNew")
    assert body["errcode"] == 0
    assert body["external_contact"]["name"] == "Neo" and body["external_contact"]["type"] == 1
    assert body["follow_user"][0]["userid"] == "lisi" and body["follow_user"][0]["state"] == "channel-7"
    assert api.get("externalcontact/get", external_userid="wmNobody")["errcode"] == 84061
    assert api.get("externalcontact/get")["errcode"] == 41035


# -- welcome codes ---------------------------------------------------------------------------------------


def test_welcome_code_is_single_use(api: Api) -> None:
    code = api.welcome_code(external_userid="wmNew", name="Neo")
    text = {"content": "Hi %NICKNAME%, %nickname% stays"}
    assert api.welcome(code, text=text) == 0
    assert api.welcome(code, text=text) == 41051
    api.advance(60)
    assert api.welcome(code, text=text) == 41051, "delivered stays delivered, even after the 20 s"
    (delivered,) = api.control("GET", "welcomes")
    assert delivered["welcome_code"] == code and delivered["external_userid"] == "wmNew"
    assert delivered["userid"] == "zhangsan"
    assert delivered["rendered_text"] == "Hi Neo, %nickname% stays"
    assert api.control("GET", "state")["welcomes_delivered"] == 1


def test_welcome_code_expires_20_seconds_after_the_event(api: Api) -> None:
    code = api.welcome_code()
    api.advance(19)
    later = api.welcome_code(external_userid="wmOther")
    api.advance(1.5)
    expired = api.post(WELCOME, {"welcome_code": code, **TEXT})
    assert expired["errcode"] == 41050 and "expired" in expired["errmsg"]
    assert api.welcome(later) == 0


def test_welcome_code_counts_from_the_event_create_time(api: Api, handle: SimulatorHandle) -> None:
    code = api.welcome_code(create_time=int(handle.state.now()) - 25)
    assert api.welcome(code) == 41050
    assert api.welcome("unknown") == 41050
    assert api.err(WELCOME, TEXT) == 41049


def test_injected_41096_does_not_consume_the_code(api: Api) -> None:
    code = api.welcome_code()
    api.control("POST", "faults", {"path": "externalcontact/send_welcome_msg", "errcode": 41096, "times": 2})
    assert api.welcome(code) == 41096
    assert api.welcome(code) == 41096
    assert api.welcome(code) == 0


# -- validation ------------------------------------------------------------------------------------------


def _attachment(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"msgtype": kind, kind: obj}


LINK = {"title": "t", "url": "https://example.com"}
MINI_NO_APPID = {"title": "t", "pic_media_id": "m", "page": "/p"}


@pytest.mark.parametrize(
    ("content", "errcode"),
    [
        ({"attachments": []}, 44004),
        ({"text": {"content": ""}, "attachments": []}, 44004),
        ({"text": {"content": "字" * 1334}}, 45002),  # 4002 bytes
        ({"attachments": [_attachment("link", LINK)] * 10}, 40058),
        ({"attachments": [{"msgtype": "voice", "voice": {"media_id": "x"}}]}, 41065),
        ({"attachments": [{"msgtype": "link"}]}, 40058),
        ({"attachments": [_attachment("link", {"url": "https://e.com"})]}, 41016),
        ({"attachments": [_attachment("link", {"title": "t"})]}, 41010),
        ({"attachments": [_attachment("link", {"title": "t" * 129, "url": "https://e.com"})]}, 40058),
        ({"attachments": [_attachment("image", {})]}, 41006),
        ({"attachments": [_attachment("image", {"media_id": "not-ours"})]}, 40007),
        ({"attachments": [_attachment("video", {})]}, 41006),
        ({"attachments": [_attachment("file", {"media_id": "not-ours"})]}, 40007),
        ({"attachments": [_attachment("miniprogram", MINI_NO_APPID)]}, 90200),
    ],
)
def test_welcome_validation_leaves_the_code_usable(api: Api, content: dict[str, Any], errcode: int) -> None:
    code = api.welcome_code()
    assert api.welcome(code, **content) == errcode
    assert api.welcome(code) == 0


def test_valid_attachments_of_every_type(api: Api) -> None:
    image = api.upload("image")
    video = api.upload("video", name="v.mp4")
    file = api.upload("file", name="f.pdf")
    attachments = [
        _attachment("image", {"media_id": image}),
        _attachment("image", {"pic_url": "https://p.qpic.cn/x.png"}),
        _attachment("link", {**LINK, "desc": "d", "picurl": "https://e.com/p.png"}),
        _attachment("miniprogram", {"title": "t", "pic_media_id": image, "appid": "wx1", "page": "/p"}),
        _attachment("video", {"media_id": video}),
        _attachment("file", {"media_id": file}),
    ]
    assert api.welcome(api.welcome_code(), attachments=attachments) == 0
    wrong_type = [_attachment("video", {"media_id": image})]
    assert api.welcome(api.welcome_code(external_userid="wmOther"), attachments=wrong_type) == 40007


def test_wrong_json_and_wrong_method(api: Api) -> None:
    url = f"{api.url}/cgi-bin/{WELCOME}"
    response = api.http.post(url, params={"access_token": api.token()}, data=b"{not json", timeout=5).json()
    assert response["errcode"] == 40058 and "wrong json format" in response["errmsg"]
    assert api.get(ADD)["errcode"] == 40063
    assert api.http.get(f"{api.url}/cgi-bin/no/such/api", timeout=5).status_code == 404


# -- faults ----------------------------------------------------------------------------------------------


def test_faults_apply_to_the_next_n_matching_calls(api: Api) -> None:
    api.token()
    api.control("POST", "faults", {"path": "externalcontact/get", "errcode": 45009, "times": 2})
    api.control("POST", "faults", {"path": "gettoken", "http_status": 502})
    assert api.get("externalcontact/get", external_userid="x")["errcode"] == 45009
    assert api.get("externalcontact/get", external_userid="x")["errcode"] == 45009
    assert api.get("externalcontact/get", external_userid="x")["errcode"] == 84061
    response = api.http.get(f"{api.url}/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": SECRET})
    assert response.status_code == 502
    assert api.gettoken()["errcode"] == 0
    assert api.control("GET", "faults") == []
    logged = api.control("GET", "calls?path=gettoken")
    assert [c["http_status"] for c in logged] == [200, 502, 200]


def test_delay_fault_and_clearing(api: Api) -> None:
    api.token()
    api.control("POST", "faults", {"path": "externalcontact/get", "delay_ms": 300, "errcode": -1})
    started = time.monotonic()
    assert api.get("externalcontact/get", external_userid="x")["errcode"] == -1
    assert time.monotonic() - started >= 0.3
    api.control("POST", "faults", {"faults": [{"path": "*", "errcode": 45033, "times": 5}]})
    assert api.control("GET", "state")["faults_pending"] == 5
    assert api.control("DELETE", "faults") == {"cleared": 1}
    assert api.get("externalcontact/get", external_userid="x")["errcode"] == 84061
    assert api.control("POST", "faults", {"path": "x"}, expect=400)["error"]


# -- mass send -------------------------------------------------------------------------------------------


def test_add_msg_template_splits_by_owner_and_keeps_fail_list(api: Api) -> None:
    seed_contacts(api)
    body = {"external_userid": ["wmA1", "wmB1", "wmGhost", "wmA2"], **TEXT}
    created = api.post(ADD, body)
    assert created["errcode"] == 0 and created["fail_list"] == ["wmGhost"]
    tasks = api.post(TASK, {"msgid": created["msgid"]})
    assert tasks["task_list"] == [{"userid": "zhangsan", "status": 0}, {"userid": "lisi", "status": 0}]
    assert tasks["next_cursor"] == ""
    assert api.post(ADD, {**body, "sender": "zhangsan"})["fail_list"] == ["wmB1", "wmGhost"]
    everyone = api.create(sender="lisi")
    assert [r["external_userid"] for r in api.results(everyone, "lisi")] == ["wmB1"]


def test_add_msg_template_refusals(api: Api) -> None:
    seed_contacts(api)
    assert api.err(ADD, {"external_userid": ["wmGhost"], **TEXT}) == 41048
    assert api.err(ADD, {"external_userid": [f"wm{i}" for i in range(10_001)], **TEXT}) == 40058
    assert api.err(ADD, {"chat_type": "group", **TEXT}) == 40058
    assert api.err(ADD, {"chat_type": "x", **TEXT}) == 40058
    assert api.err(ADD, {"sender": "nobody", **TEXT}) == 40003
    assert api.err(ADD, {"external_userid": ["wmA1"]}) == 44004
    assert api.control("GET", "state")["tasks"] == 0


def test_group_task_results_are_chat_rows(api: Api) -> None:
    seed_contacts(api)
    created = api.post(
        ADD, {"chat_type": "group", "sender": "zhangsan", "chat_id_list": ["wrChat1", "wrChat3"], **TEXT}
    )
    assert created["fail_list"] == ["wrChat3"]
    api.control("POST", f"groupmsg/{created['msgid']}/send", {})
    (row,) = api.results(created["msgid"], "zhangsan")
    assert row["chat_id"] == "wrChat1" and row["status"] == 1 and "external_userid" not in row


def test_members_send_with_statuses(api: Api) -> None:
    seed_contacts(api)
    msgid = api.create(sender="zhangsan")
    api.control("POST", f"groupmsg/{msgid}/send", {"customer_status": {"wmA2": "not_friend"}})
    (member,) = api.post(TASK, {"msgid": msgid})["task_list"]
    assert member["status"] == 2 and member["send_time"] > 0
    by_customer = {r["external_userid"]: r for r in api.results(msgid, "zhangsan")}
    assert by_customer["wmA1"]["status"] == 1 and "send_time" in by_customer["wmA1"]
    assert by_customer["wmA2"]["status"] == 2 and "send_time" not in by_customer["wmA2"]
    assert api.err(RESULT, {"msgid": msgid}) == 41009
    assert api.err(TASK, {"msgid": "msgNope"}) == 41047
    assert api.err(TASK, {}) == 41046


def test_monthly_cap_marks_limit_reached(api: Api, handle: SimulatorHandle) -> None:
    seed_contacts(api)
    with handle.state.lock:
        now = handle.state.now()
        handle.state.monthly_receipts[("wmB1", month_key(now))] = days_in_month(now)
    msgid = api.create(sender="lisi")
    api.control("POST", f"groupmsg/{msgid}/send", {"userids": ["lisi"]})
    assert [r["status"] for r in api.results(msgid, "lisi")] == [3]


def test_cap_rule_week_caps_after_seven_and_is_changed_by_control(api: Api, handle: SimulatorHandle) -> None:
    seed_contacts(api)
    assert api.control("GET", "customer_limit")["rule"] == "month"
    api.control("POST", "customer_limit", {"rule": "fortnight"}, expect=400)
    try:  # the rule is configuration: /__sim/reset keeps it, so this module's simulator gets month back
        assert api.control("POST", "customer_limit", {"rule": "week"})["rule"] == "week"
        with handle.state.lock:
            handle.state.monthly_receipts[("wmB1", period_key("week", handle.state.now()))] = 6
        first, second = api.create(sender="lisi"), api.create(sender="lisi")
        for msgid in (first, second):
            api.control("POST", f"groupmsg/{msgid}/send", {"userids": ["lisi"]})
        assert [r["status"] for m in (first, second) for r in api.results(m, "lisi")] == [1, 3]
    finally:
        api.control("POST", "customer_limit", {"rule": "month"})
    third = api.create(sender="lisi")  # a month allows more: sent again
    api.control("POST", f"groupmsg/{third}/send", {"userids": ["lisi"]})
    assert [r["status"] for r in api.results(third, "lisi")] == [1]


def test_removed_customer_is_not_a_friend_and_bad_control_input_is_400(api: Api) -> None:
    seed_contacts(api)
    msgid = api.create(sender="lisi")
    api.control("POST", "contacts", {"remove_customers": ["wmB1"]})
    api.control("POST", f"groupmsg/{msgid}/send", {"customer_status": {"wmB1": 9}}, expect=400)
    api.control("POST", f"groupmsg/{msgid}/send", {"userids": ["zhangsan"]}, expect=409)
    api.control("POST", f"groupmsg/{msgid}/send", {})
    assert [r["status"] for r in api.results(msgid, "lisi")] == [2]
    api.control("POST", "groupmsg/admin_task", {"creator": "a", "create_time": "yesterday"}, expect=400)
    api.control("POST", "groupmsg/msgNope/send", {}, expect=404)


def test_remind_is_capped_at_three_per_rolling_day(api: Api) -> None:
    seed_contacts(api)
    msgid = api.create(sender="lisi")
    for _ in range(3):
        assert api.err(REMIND, {"msgid": msgid}) == 0
        api.advance(3600)
    assert api.err(REMIND, {"msgid": msgid}) == 45009
    api.advance(DAY - 3 * 3600 + 1)  # the first reminder leaves the 24 h window
    assert api.err(REMIND, {"msgid": msgid}) == 0
    assert api.err(REMIND, {"msgid": msgid}) == 45009
    assert api.err(REMIND, {"msgid": "msgNope"}) == 41047


def test_cancel_is_idempotent_and_stops_members(api: Api) -> None:
    seed_contacts(api)
    msgid = api.create(sender="lisi")
    assert api.err(CANCEL, {"msgid": msgid}) == 0
    assert api.err(CANCEL, {"msgid": msgid}) == 0
    assert "cancelled" in api.control("POST", f"groupmsg/{msgid}/send", {}, expect=409)["error"]
    assert api.control("GET", "state")["tasks_cancelled"] == 1


def _collect(api: Api, path: str, body: dict[str, Any], items: str) -> tuple[list[dict[str, Any]], int]:
    """Follow next_cursor to the end; return every row and the number of pages."""
    rows: list[dict[str, Any]] = []
    cursor, pages = "", 0
    while True:
        page = api.post(path, {**body, "cursor": cursor})
        assert page["errcode"] == 0, page
        rows += page[items]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            return rows, pages


def test_task_and_result_pagination_to_the_last_page(api: Api) -> None:
    members = [f"m{i}" for i in range(5)]
    customers = [{"external_userid": f"wm{i}", "owner": members[i]} for i in range(5)]
    customers += [{"external_userid": f"wmx{i}", "owner": "m0"} for i in range(6)]
    api.control("POST", "contacts", {"members": members, "customers": customers})
    msgid = api.create(external_userid=[c["external_userid"] for c in customers])

    task_rows, pages = _collect(api, TASK, {"msgid": msgid, "limit": 2}, "task_list")
    assert [r["userid"] for r in task_rows] == members and pages == 3
    query = {"msgid": msgid, "userid": "m0", "limit": 3}
    result_rows, pages = _collect(api, RESULT, query, "send_list")
    assert [r["external_userid"] for r in result_rows] == ["wm0", *(f"wmx{i}" for i in range(6))]
    assert pages == 3

    foreign = api.post(TASK, {"msgid": msgid, "limit": 2})["next_cursor"]
    assert api.err(RESULT, {**query, "cursor": foreign}) == 50100, "a cursor only works for its own query"
    assert api.err(TASK, {"msgid": msgid, "cursor": "garbage"}) == 50100
    everything = api.post(TASK, {"msgid": msgid, "limit": 5000})
    assert len(everything["task_list"]) == 5, "a limit above 1000 falls back to the default (500)"


def test_list_v2_includes_console_tasks_and_filters(api: Api, handle: SimulatorHandle) -> None:
    seed_contacts(api)
    now = int(handle.state.now())
    ours = api.create(sender="lisi", text={"content": "ours"})
    console_task = {"creator": "admin1", "external_userid": ["wmA1"], "text": {"content": "c"}}
    console = api.control("POST", "groupmsg/admin_task", console_task)["msgid"]
    personal_task = {"creator": "zhangsan", "create_type": 1, "text": {"content": "p"}}
    personal = api.control("POST", "groupmsg/admin_task", personal_task)["msgid"]
    group = api.create(chat_type="group", sender="lisi")
    window = {"chat_type": "single", "start_time": now - 60, "end_time": now + 60}

    def listed(**filters: Any) -> list[dict[str, Any]]:
        return _collect(api, LIST, {**window, **filters}, "group_msg_list")[0]

    by_id = {r["msgid"]: r for r in listed()}
    assert set(by_id) == {ours, console, personal}
    assert "creator" not in by_id[ours] and by_id[console]["creator"] == "admin1"
    assert by_id[personal]["create_type"] == 1 and isinstance(by_id[ours]["create_time"], str)
    assert by_id[ours]["text"] == {"content": "ours"}
    assert {r["msgid"] for r in listed(filter_type=0)} == {ours, console}
    assert [r["msgid"] for r in listed(creator="admin1")] == [console]
    assert [r["msgid"] for r in listed(chat_type="group")] == [group]

    assert api.err(LIST, {"start_time": now, "end_time": now}) == 40058, "chat_type is required"
    assert api.err(LIST, {**window, "start_time": now - 40 * DAY}) == 40058, "at most one month"


def test_list_v2_limit_over_100_falls_back_to_50(api: Api, handle: SimulatorHandle) -> None:
    seed_contacts(api)
    now = int(handle.state.now())
    for _ in range(60):
        api.control("POST", "groupmsg/admin_task", {"creator": "admin1", "external_userid": ["wmA1"]})
    window = {"chat_type": "single", "start_time": now - 60, "end_time": now + 60}
    page = api.post(LIST, {**window, "limit": 500})
    assert len(page["group_msg_list"]) == 50 and page["next_cursor"]
    rows, pages = _collect(api, LIST, {**window, "limit": 100}, "group_msg_list")
    assert len(rows) == 60 and pages == 1


def test_get_groupmsg_task_refuses_tasks_before_2020_11_17(api: Api) -> None:
    seed_contacts(api)
    old_task = {"creator": "admin1", "external_userid": ["wmA1"], "create_time": 1605000000}
    old = api.control("POST", "groupmsg/admin_task", old_task)["msgid"]
    assert api.err(TASK, {"msgid": old}) == 40058
    assert api.err(RESULT, {"msgid": old, "userid": "zhangsan"}) == 0


# -- group welcome templates -------------------------------------------------------------------------------


def test_templates_crud_priority_and_post_only(api: Api) -> None:
    image = api.upload("image")
    body = {"text": {"content": "Hi %NICKNAME%"}, "link": LINK, "image": {"media_id": image}, "video": {}}
    template_id = api.post(TEMPLATE + "add", body)["template_id"]
    ref = {"template_id": template_id}
    got = api.post(TEMPLATE + "get", ref)
    assert got["text"] == {"content": "Hi %NICKNAME%"}
    assert set(got) == {"errcode", "errmsg", "text", "image"}, "only the highest-priority part is kept"
    assert api.http.get(got["image"]["pic_url"], timeout=5).content == PNG
    assert api.get(TEMPLATE + "get", template_id=template_id)["errcode"] == 40063, "POST + JSON only"

    assert api.err(TEMPLATE + "edit", {**ref, "link": LINK}) == 0
    assert set(api.post(TEMPLATE + "get", ref)) == {"errcode", "errmsg", "link"}
    assert api.err(TEMPLATE + "del", ref) == 0
    assert api.err(TEMPLATE + "get", ref) == 40037
    assert api.err(TEMPLATE + "add", {}) == 44004
    assert api.err(TEMPLATE + "add", {"text": {"content": "a" * 3001}}) == 45002


def test_template_cap_and_ownership(api: Api) -> None:
    theirs = {"text": {"content": "theirs"}}
    other = api.control("POST", "group_welcome_templates", theirs, expect=201)["template_id"]
    assert api.post(TEMPLATE + "get", {"template_id": other})["text"] == theirs["text"]
    assert api.err(TEMPLATE + "edit", {"template_id": other, **TEXT}) == 48002
    assert api.err(TEMPLATE + "del", {"template_id": other}) == 48002
    for i in range(99):
        assert api.err(TEMPLATE + "add", {"text": {"content": f"t{i}"}}) == 0
    assert api.err(TEMPLATE + "add", TEXT) == 41055
    assert api.control("GET", "state")["templates"] == 100


# -- media -----------------------------------------------------------------------------------------------


def test_media_expires_after_three_days(api: Api) -> None:
    seed_contacts(api)
    media_id = api.upload("image")
    body = {"sender": "lisi", "attachments": [_attachment("image", {"media_id": media_id})]}
    assert api.err(ADD, body) == 0
    api.advance(3 * DAY - 5)
    assert api.err(ADD, body) == 0
    api.advance(10)
    expired = api.post(ADD, body)
    assert expired["errcode"] == 40007 and "expired" in expired["errmsg"]


def test_media_upload_refusals_and_uploadimg(api: Api) -> None:
    assert api.upload_raw(params={"type": "gif"}, files={"media": PNG})["errcode"] == 40005
    assert api.upload_raw(params={"type": "file"})["errcode"] == 44001
    assert api.upload_raw(params={"type": "image"}, files={"media": b"ab"})["errcode"] == 40009
    image = api.upload_raw("media/uploadimg", files={"media": ("x.png", PNG)})
    assert image["errcode"] == 0 and api.http.get(image["url"], timeout=5).content == PNG


# -- callbacks -------------------------------------------------------------------------------------------


class Receiver:
    """A tiny callback endpoint: verifies and decrypts what it gets with the product's MsgCrypto."""

    def __init__(self, slow: bool = False) -> None:
        self.crypto = MsgCrypto(TOKEN, AES_KEY, CORP_ID)
        self.events: list[dict[str, str]] = []
        self.hits = 0
        self.slow = slow
        self.release = threading.Event()
        self.server = QuietThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()

    def on_post(self, query: dict[str, str], body: bytes) -> bytes:
        self.hits += 1
        if self.slow:
            self.release.wait(6)  # longer than WeCom's 5 s; released at teardown
        envelope = parse_envelope(body)
        signature, timestamp, nonce = query["msg_signature"], query["timestamp"], query["nonce"]
        self.events.append(
            parse_event(self.crypto.decrypt_message(signature, timestamp, nonce, envelope.encrypt))
        )
        return b"success"

    def on_get(self, query: dict[str, str]) -> bytes:
        signature, timestamp, nonce = query["msg_signature"], query["timestamp"], query["nonce"]
        return self.crypto.verify_url(signature, timestamp, nonce, query["echostr"]).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self._answer(receiver.on_post(self._query(), body))

            def do_GET(self) -> None:
                self._answer(receiver.on_get(self._query()))

            def _query(self) -> dict[str, str]:
                return dict(parse_qsl(urlsplit(self.path).query))

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def slow_receiver() -> Iterator[Receiver]:
    running = Receiver(slow=True)
    yield running
    running.close()


def test_add_external_contact_push_decrypts_like_wecom(api: Api, receiver: Receiver) -> None:
    contact = {
        "userid": "zhangsan",
        "external_userid": "wmNew",
        "state": "qr-1",
        "callback_url": receiver.url,
    }
    pushed = api.control("POST", "callbacks/add_external_contact", contact)
    assert pushed["delivered"] is True
    assert [a["status"] for a in pushed["attempts"]] == [200]
    (event,) = receiver.events
    assert event == {
        "ToUserName": CORP_ID,
        "FromUserName": "sys",
        "CreateTime": str(pushed["create_time"]),
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": "zhangsan",
        "ExternalUserID": "wmNew",
        "State": "qr-1",
        "WelcomeCode": pushed["welcome_code"],
    }
    assert api.welcome(event["WelcomeCode"]) == 0
    (record,) = api.control("GET", "callbacks")
    assert record["kind"] == "add_external_contact" and record["delivered"] is True


def test_push_without_welcome_code_and_raw_event(api: Api, receiver: Receiver) -> None:
    contact = {
        "userid": "u1",
        "external_userid": "wm1",
        "with_welcome_code": False,
        "callback_url": receiver.url,
    }
    assert api.control("POST", "callbacks/add_external_contact", contact)["welcome_code"] is None
    fields = {"MsgType": "event", "Event": "change_external_contact", "ChangeType": "del_external_contact"}
    api.control("POST", "callbacks/raw", {"fields": fields, "callback_url": receiver.url})
    first, second = receiver.events
    assert "WelcomeCode" not in first and "State" not in first
    assert second["ChangeType"] == "del_external_contact" and second["ToUserName"] == CORP_ID


def test_slow_receiver_gets_three_tries_of_the_same_request(api: Api, slow_receiver: Receiver) -> None:
    contact = {"userid": "u1", "external_userid": "wm1", "callback_url": slow_receiver.url, "timeout": 0.2}
    pushed = api.control("POST", "callbacks/add_external_contact", contact)
    assert pushed["delivered"] is False
    assert [a["status"] for a in pushed["attempts"]] == [None, None, None]
    assert all(a["error"] == "ReadTimeout" and a["elapsed_ms"] >= 150 for a in pushed["attempts"])
    deadline = time.monotonic() + 2
    while slow_receiver.hits < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slow_receiver.hits == 3


def test_async_push_and_url_verification(api: Api, receiver: Receiver) -> None:
    contact = {"userid": "u1", "external_userid": "wm1", "callback_url": receiver.url, "async": True}
    assert api.control("POST", "callbacks/add_external_contact", contact)["async"] is True
    deadline = time.monotonic() + 5
    while not api.control("GET", "callbacks") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert api.control("GET", "callbacks")[0]["delivered"] is True
    check = {"callback_url": receiver.url, "echostr": "1234567"}
    checked = api.control("POST", "callbacks/verify_url", check)
    assert checked["ok"] is True and checked["body"] == "1234567" and checked["within_deadline"] is True


def test_raw_push_needs_a_url(api: Api) -> None:
    assert api.control("POST", "callbacks/raw", {"fields": {"A": "b"}}, expect=400)["error"]
    pushed = api.control("POST", "callbacks/add_external_contact", {"userid": "u", "external_userid": "wm"})
    assert pushed["pushed"] is False and pushed["welcome_code"]


def test_reset_and_clock(api: Api) -> None:
    before = api.control("GET", "clock")
    api.advance(100)
    assert api.control("GET", "clock")["offset"] == pytest.approx(before["offset"] + 100)
    api.control("POST", "clock", {"advance": -1}, expect=400)
    api.control("POST", "reset")
    assert api.control("GET", "clock")["offset"] == 0
    assert api.control("GET", "nope", expect=404)["error"]
