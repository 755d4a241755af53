"""The WeCom API modules (``wecom/welcome``, ``wecom/groupmsg``, ``wecom/media``) against the simulator over real
HTTP: each function sends exactly the request WeCom documents (path, method, query, body) and reads its answer;
the errcodes the bundle names are WeCom's; and no WeCom path is written outside ``wecom/``."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.settings import DEV_DEFAULTS
from local.wecom_sim import errors as sim_errors
from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import dev_simulator
from wecom_bundle.wecom import groupmsg
from wecom_bundle.wecom import media as wecom_media
from wecom_bundle.wecom import tags as wecom_tags
from wecom_bundle.wecom import welcome as wecom_welcome
from wecom_bundle.wecom.client import WeComClient, fetch_token, new_session
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import RateLimitError, WeComError

LAYER = Path(__file__).resolve().parents[3] / "layers/shared/wecom_bundle"
# A string that *is* a WeCom path (docstrings and log texts that mention one are prose, not paths).
WECOM_PATH = re.compile(
    r"^/?(cgi-bin/)?((externalcontact|media|message|user|department)/[A-Za-z0-9_/]*|gettoken)$"
)
TIMEOUT = (3.05, 10.0)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class OneToken:
    """A token source holding one real token (refresh is the client's business, tested elsewhere)."""

    def __init__(self, base: str) -> None:
        corp_id, secret = DEV_DEFAULTS["WECOM_CORP_ID"], DEV_DEFAULTS["WECOM_CORP_SECRET"]
        self.token, _ = fetch_token(new_session(), base, corp_id, secret, 5)

    def get(self, timeout: float) -> str:  # noqa: ARG002
        return self.token

    def invalidate(self, token: str) -> None:  # noqa: ARG002
        raise AssertionError("no token is refused in these tests")


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    handle = dev_simulator()
    requests.post(
        f"{handle.url}/__sim/contacts",
        json={
            "members": ["zhangsan"],
            "customers": [{"external_userid": "wmA1", "name": "Ann", "owner": "zhangsan"}],
        },
        timeout=5,
    ).raise_for_status()
    yield handle
    handle.stop()


@pytest.fixture
def client(sim: SimulatorHandle) -> WeComClient:
    return WeComClient(sim.url, OneToken(sim.url))


def last_call(sim: SimulatorHandle, path: str) -> dict[str, Any]:
    logged = calls(sim.state, path)
    assert logged, f"no call to {path}"
    assert logged[-1]["path"] == f"/cgi-bin/{path}"
    return logged[-1]


# --------------------------------------------------------------------------------------------- welcome
def _welcome_code(sim: SimulatorHandle) -> str:
    body = {"userid": "zhangsan", "external_userid": "wmA1"}
    answer = requests.post(f"{sim.url}/__sim/callbacks/add_external_contact", json=body, timeout=5)
    answer.raise_for_status()
    return str(answer.json()["welcome_code"])


def test_send_welcome_msg_posts_the_body_as_given(sim: SimulatorHandle, client: WeComClient) -> None:
    body = {"welcome_code": _welcome_code(sim), "text": {"content": "Hello Ann"}}
    wecom_welcome.send_welcome_msg(client, body, timeout=TIMEOUT)
    sent = last_call(sim, wecom_welcome.SEND_WELCOME_MSG)
    assert (sent["method"], sent["body"], sent["errcode"]) == ("POST", body, 0)
    assert sent["query"] == {"access_token": "***"}
    with pytest.raises(WeComError) as again:  # WeCom's own code for a welcome already delivered
        wecom_welcome.send_welcome_msg(client, body, timeout=TIMEOUT)
    assert again.value.errcode == Errcode.WELCOME_ALREADY_SENT


def test_external_contact_name_reads_the_contact(sim: SimulatorHandle, client: WeComClient) -> None:
    assert wecom_welcome.external_contact_name(client, "wmA1", timeout=TIMEOUT) == "Ann"
    asked = last_call(sim, wecom_welcome.GET_EXTERNAL_CONTACT)
    assert asked["method"] == "GET"
    assert asked["query"] == {"external_userid": "wmA1", "access_token": "***"}


# --------------------------------------------------------------------------------------------- tags
def test_mark_tag_posts_the_member_customer_and_tags(sim: SimulatorHandle, client: WeComClient) -> None:
    wecom_tags.mark_tag(client, "zhangsan", "wmA1", ("etTagVip", "etTagLead"), timeout=TIMEOUT)
    sent = last_call(sim, wecom_tags.MARK_TAG)
    body = {"userid": "zhangsan", "external_userid": "wmA1", "add_tag": ["etTagVip", "etTagLead"]}
    assert (sent["method"], sent["body"], sent["errcode"]) == ("POST", body, 0)
    with pytest.raises(WeComError) as unknown:
        wecom_tags.mark_tag(client, "zhangsan", "wmA1", ["etNoSuchTag"], timeout=TIMEOUT)
    assert unknown.value.errcode == Errcode.INVALID_TAG_ID
    assert not unknown.value.retryable


# -------------------------------------------------------------------------------------------- groupmsg
def _create(sim: SimulatorHandle, client: WeComClient) -> str:
    body = {
        "chat_type": "single",
        "external_userid": ["wmA1"],
        "sender": "zhangsan",
        "text": {"content": "x"},
    }
    answer = groupmsg.add_msg_template(client, body, timeout=TIMEOUT)
    sent = last_call(sim, groupmsg.ADD_MSG_TEMPLATE)
    assert (sent["method"], sent["body"]) == ("POST", body)
    assert answer["fail_list"] == []
    return str(answer["msgid"])


def test_list_v2_pages_with_the_query_and_a_cursor(sim: SimulatorHandle, client: WeComClient) -> None:
    msgid = _create(sim, client)
    now = int(sim.state.now())
    query = {
        "chat_type": "single",
        "start_time": now - 60,
        "end_time": now + 60,
        "filter_type": 2,
        "limit": 100,
    }
    pages = list(groupmsg.get_groupmsg_list_v2(client, query, timeout=TIMEOUT))
    assert [row["msgid"] for rows, _ in pages for row in rows] == [msgid]
    assert pages[-1][1] == ""
    assert last_call(sim, groupmsg.GET_GROUPMSG_LIST_V2)["body"] == {**query, "cursor": ""}


def test_task_and_result_pages_ask_for_the_msgid_member_and_limit(
    sim: SimulatorHandle, client: WeComClient
) -> None:
    msgid = _create(sim, client)
    tasks = [row for rows, _ in groupmsg.get_groupmsg_task(client, msgid, limit=1000) for row in rows]
    assert [task["userid"] for task in tasks] == ["zhangsan"]
    asked = last_call(sim, groupmsg.GET_GROUPMSG_TASK)["body"]
    assert asked == {"msgid": msgid, "limit": 1000, "cursor": ""}
    results = groupmsg.get_groupmsg_send_result(client, msgid, "zhangsan", limit=1000, cursor="")
    assert [row["external_userid"] for rows, _ in results for row in rows] == ["wmA1"]
    asked = last_call(sim, groupmsg.GET_GROUPMSG_SEND_RESULT)["body"]
    assert asked == {"msgid": msgid, "userid": "zhangsan", "limit": 1000, "cursor": ""}


def test_remind_then_cancel_post_the_msgid(sim: SimulatorHandle, client: WeComClient) -> None:
    msgid = _create(sim, client)
    for _ in range(3):
        groupmsg.remind_groupmsg_send(client, msgid, timeout=TIMEOUT)
    assert last_call(sim, groupmsg.REMIND_GROUPMSG_SEND)["body"] == {"msgid": msgid}
    with pytest.raises(RateLimitError) as fourth:  # WeCom's cap: 3 reminders a day per msgid
        groupmsg.remind_groupmsg_send(client, msgid, timeout=TIMEOUT)
    assert fourth.value.errcode == Errcode.RATE_LIMITED
    groupmsg.cancel_groupmsg_send(client, msgid, timeout=TIMEOUT)
    assert last_call(sim, groupmsg.CANCEL_GROUPMSG_SEND)["body"] == {"msgid": msgid}
    assert requests.get(f"{sim.url}/__sim/state", timeout=5).json()["tasks_cancelled"] == 1


# ----------------------------------------------------------------------------------------------- media
def test_upload_sends_the_file_as_form_field_media(sim: SimulatorHandle, client: WeComClient) -> None:
    media_id = wecom_media.upload(client, "image", "a.png", PNG, "image/png", timeout=TIMEOUT)
    sent = last_call(sim, wecom_media.UPLOAD)
    assert sent["query"] == {"type": "image", "access_token": "***"}
    assert sent["body"] == {"media": {"filename": "a.png", "size": len(PNG), "content_type": "image/png"}}
    stored = requests.get(f"{sim.url}/__sim/media/{media_id}", timeout=5)
    assert (stored.status_code, stored.content) == (200, PNG)


def test_upload_img_answers_a_permanent_url(sim: SimulatorHandle, client: WeComClient) -> None:
    url = wecom_media.upload_img(client, "b.png", PNG, "image/png", timeout=TIMEOUT)
    sent = last_call(sim, wecom_media.UPLOAD_IMG)
    assert sent["query"] == {"access_token": "***"}
    assert sent["body"]["media"]["filename"] == "b.png"
    assert requests.get(url, timeout=5).content == PNG


# --------------------------------------------------------------------------------------------- errcodes
def test_errcodes_are_wecoms_numbers_and_stay_plain_ints() -> None:
    same_situation = {
        Errcode.SYSTEM_BUSY: sim_errors.SYSTEM_BUSY,
        Errcode.INVALID_CREDENTIAL: sim_errors.INVALID_SECRET,
        Errcode.INVALID_MEDIA_ID: sim_errors.INVALID_MEDIA_ID,
        Errcode.INVALID_CORPID: sim_errors.INVALID_CORPID,
        Errcode.INVALID_ACCESS_TOKEN: sim_errors.INVALID_ACCESS_TOKEN,
        Errcode.INVALID_TEMPLATE_ID: sim_errors.INVALID_TEMPLATE_ID,
        Errcode.CONTACT_WAY_TOO_MANY_USERS: sim_errors.CONTACT_WAY_TOO_MANY_USERS,
        Errcode.CONTACT_WAY_INVALID_CONFIG_ID: sim_errors.INVALID_CONFIG_ID,
        Errcode.CONTACT_WAY_LIMIT_REACHED: sim_errors.CONTACT_WAY_LIMIT_REACHED,
        Errcode.NO_SENDABLE_CUSTOMER: sim_errors.NO_SENDABLE_CUSTOMER,
        Errcode.WELCOME_ALREADY_SENT: sim_errors.WELCOME_ALREADY_SENT,
        Errcode.TEMPLATE_LIMIT_REACHED: sim_errors.TEMPLATE_LIMIT_REACHED,
        Errcode.WELCOME_BEING_SENT: sim_errors.WELCOME_BEING_SENT,
        Errcode.ACCESS_TOKEN_EXPIRED: sim_errors.ACCESS_TOKEN_EXPIRED,
        Errcode.CONTENT_TOO_LONG: sim_errors.CONTENT_TOO_LONG,
        Errcode.RATE_LIMITED: sim_errors.RATE_LIMITED,
        Errcode.TOO_MANY_CONCURRENT: sim_errors.TOO_MANY_CONCURRENT,
        Errcode.API_FORBIDDEN: sim_errors.API_FORBIDDEN,
        Errcode.INVALID_TAG_ID: sim_errors.INVALID_TAG_ID,
        Errcode.NOT_EXTERNAL_CONTACT: sim_errors.NOT_EXTERNAL_CONTACT,
        Errcode.INVALID_AGENTID: sim_errors.INVALID_AGENTID,
        Errcode.NO_PRIVILEGE: sim_errors.NO_PRIVILEGE,
        Errcode.UNTRUSTED_IP: sim_errors.UNTRUSTED_IP,
    }
    assert set(same_situation) == set(Errcode)
    assert all(code == number for code, number in same_situation.items())
    assert (
        json.dumps({"errcode": Errcode.RATE_LIMITED}) == '{"errcode": 45009}'
    )  # records and answers unchanged


def _string_constants(source: str) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_the_pattern_finds_paths_and_spares_prose() -> None:
    found = [value for _, value in _string_constants('P = "externalcontact/get"\nQ = f"media/{kind}"\n')]
    assert [value for value in found if WECOM_PATH.match(value)] == ["externalcontact/get", "media/"]
    assert not WECOM_PATH.match("call ``externalcontact/get`` for the name")
    assert not WECOM_PATH.match("media")


def test_no_wecom_path_is_written_outside_the_wecom_package() -> None:
    """A new WeCom call goes in the ``wecom/`` module of its area (see README "Layout"), never in a service."""
    sources = [path for path in LAYER.rglob("*.py") if "wecom" not in path.relative_to(LAYER).parts[:-1]]
    assert len(sources) > 30  # the scan really reads the layer
    stray = [
        f"{path.relative_to(LAYER)}:{line}: {value}"
        for path in sources
        for line, value in _string_constants(path.read_text(encoding="utf-8"))
        if WECOM_PATH.match(value)
    ]
    assert stray == []


def _errcode_literals(source: str) -> Iterator[tuple[int, int]]:
    """Integer literals equal to a named errcode; a negated one (the callback crypto's -40001…) is not one."""
    tree = ast.parse(source)
    negated = {id(node.operand) for node in ast.walk(tree) if isinstance(node, ast.UnaryOp)}
    named = set(Errcode) - {Errcode.SYSTEM_BUSY}  # -1: a 1 is no errcode
    for node in ast.walk(tree):
        is_int = isinstance(node, ast.Constant) and type(node.value) is int
        if is_int and id(node) not in negated and node.value in named:
            yield node.lineno, node.value


def test_errcodes_are_named_once() -> None:
    """Services compare with ``Errcode`` members; only ``wecom/errcodes.py`` holds the numbers."""
    assert list(_errcode_literals("A = 45009\nB = -40001\nC = Errcode.RATE_LIMITED\n")) == [(1, 45009)]
    loose = [
        f"{path.relative_to(LAYER)}:{line}: {value}"
        for path in LAYER.rglob("*.py")
        if path.relative_to(LAYER).as_posix() != "wecom/errcodes.py"
        for line, value in _errcode_literals(path.read_text(encoding="utf-8"))
    ]
    assert loose == []
