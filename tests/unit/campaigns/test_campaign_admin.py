"""The campaign routes of AdminFunction in-process (payload 2.0 events) against moto and the simulator.

Every validation rule answers 400 naming its field and causes no WeCom call; the error shapes of the
contract (409 idempotency_conflict, 429 reminder_limit with next_allowed_at, 404); the OpenAPI document
describes every campaign route the function serves.
"""

from __future__ import annotations

import json
import time
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.events import http_event
from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.strategies import json_scalars, json_values
from tests.support import function_under_test, with_campaign_customers
from wecom_bundle.campaigns.validation import parse_campaign

pytestmark = pytest.mark.usefixtures("moto_table")
TEXT = {"content": "hello"}
LINK = {"msgtype": "link", "link": {"title": "t", "url": "https://example.com/"}}
MINI = {
    "msgtype": "miniprogram",
    "miniprogram": {"title": "t", "pic_media_id": "m", "appid": "wx1", "page": "/p"},
}


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


@pytest.fixture
def sim(wecom_sim: SimulatorHandle) -> SimulatorHandle:
    return with_campaign_customers(wecom_sim)


@pytest.fixture
def call(admin: Any) -> Any:
    def _call(
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        parts = path.split("/")
        params = {"campaign_id": parts[3]} if len(parts) > 3 else None
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        event = http_event(
            method, path, query, payload, {"content-type": "application/json", **(headers or {})}, params
        )
        answer = admin(event)
        text = answer.get("body") or ""
        content_type = answer.get("headers", {}).get("Content-Type", "")
        doc = json.loads(text) if text and content_type.startswith("application/json") else text
        return answer["statusCode"], answer.get("headers", {}), doc

    return _call


def _big_text() -> dict[str, str]:
    return {"content": "好" * 1334}  # 4002 bytes in UTF-8


VALIDATION_MATRIX = [
    ({"external_userid": ["wm0"], "text": TEXT, "chat_type": "broadcast"}, "chat_type"),
    ({"chat_type": "group", "text": TEXT}, "sender"),
    ({"external_userid": ["wm0"]}, "text"),
    ({"external_userid": ["wm0"], "text": {"content": ""}, "attachments": []}, "text"),
    ({"external_userid": ["wm0"], "text": _big_text()}, "text.content"),
    ({"external_userid": ["wm0"], "attachments": [LINK] * 10}, "attachments"),
    (
        {"external_userid": ["wm0"], "attachments": [{"msgtype": "image", "link": LINK["link"]}]},
        "attachments[0].link",
    ),
    ({"external_userid": ["wm0"], "attachments": [{"msgtype": "video"}]}, "attachments[0].video"),
    (
        {"external_userid": ["wm0"], "attachments": [{"msgtype": "voice", "voice": {}}]},
        "attachments[0].msgtype",
    ),
    (
        {"external_userid": ["wm0"], "attachments": [{"msgtype": "image", "image": {}}]},
        "attachments[0].image.media_id",
    ),
    (
        {"external_userid": ["wm0"], "attachments": [{"msgtype": "link", "link": {"url": "https://x/"}}]},
        "attachments[0].link.title",
    ),
    (
        {"external_userid": ["wm0"], "attachments": [{"msgtype": "link", "link": {"title": "t"}}]},
        "attachments[0].link.url",
    ),
    (
        {
            "external_userid": ["wm0"],
            "attachments": [{"msgtype": "link", "link": {"title": "t", "url": "https://x/" + "a" * 2048}}],
        },
        "attachments[0].link.url",
    ),
    (
        {
            "external_userid": ["wm0"],
            "attachments": [{"msgtype": "link", "link": {"title": "t" * 129, "url": "https://x/"}}],
        },
        "attachments[0].link.title",
    ),
    (
        {
            "external_userid": ["wm0"],
            "attachments": [
                {"msgtype": "miniprogram", "miniprogram": {**MINI["miniprogram"], "appid": None}}
            ],
        },
        "attachments[0].miniprogram.appid",
    ),
    (
        {
            "external_userid": ["wm0"],
            "attachments": [
                {"msgtype": "miniprogram", "miniprogram": {**MINI["miniprogram"], "title": "长" * 22}}
            ],
        },
        "attachments[0].miniprogram.title",
    ),
    (
        {
            "chat_type": "group",
            "sender": "zhangsan",
            "chat_id_list": [f"wr{i}" for i in range(2001)],
            "text": TEXT,
        },
        "chat_id_list",
    ),
    ({"chat_id_list": ["wr1"], "external_userid": ["wm0"], "text": TEXT}, "chat_id_list"),
    (
        {"chat_type": "group", "sender": "zhangsan", "external_userid": ["wm0"], "text": TEXT},
        "external_userid",
    ),
    ({"chat_type": "group", "sender": "zhangsan", "allow_select": True, "text": TEXT}, "allow_select"),
    ({"text": TEXT}, "external_userid"),
    ({"external_userid": "wm0", "text": TEXT}, "external_userid"),
    ({"external_userid": ["wm0", ""], "text": TEXT}, "external_userid[1]"),
    ({"external_userid": [f"wm{i}" for i in range(100_001)], "text": TEXT}, "external_userid"),
    ({"tag_filter": {"group_list": []}, "text": TEXT}, "tag_filter.group_list"),
    ({"tag_filter": {"group_list": [{"tag_list": []}]}, "text": TEXT}, "tag_filter.group_list[0].tag_list"),
    (
        {"tag_filter": {"group_list": [{"tag_list": [f"et{i}" for i in range(101)]}]}, "text": TEXT},
        "tag_filter.group_list[0].tag_list",
    ),
    ({"tag_filter": {"groups": []}, "text": TEXT}, "tag_filter.groups"),
    (
        {"tag_filter": {"group_list": [{"tag_list": ["et1"]}]}, "external_userid": ["wm0"], "text": TEXT},
        "tag_filter",
    ),
    ({"external_userid": ["wm0"], "text": TEXT, "allow_select": "yes"}, "allow_select"),
    ({"external_userid": ["wm0"], "text": TEXT, "sender": 7}, "sender"),
    ({"external_userid": ["wm0"], "text": TEXT, "send_at": "tomorrow"}, "send_at"),
    ({"external_userid": ["wm0"], "text": TEXT, "send_at": 99_999_999_999}, "send_at"),
    ({"external_userid": ["wm0"], "text": TEXT, "send_at": "2020-12-12T10:00"}, "send_at"),  # a typo'd year
    ({"external_userid": ["wm0"], "text": TEXT, "send_at": 1_600_000_000}, "send_at"),
    ({"external_userid": ["wm0"], "text": TEXT, "name": "n" * 201}, "name"),
    (
        {"external_userid": ["wm0"], "text": TEXT, "reminders": {"every_minutes": 0}},
        "reminders.every_minutes",
    ),
    ({"external_userid": ["wm0"], "text": TEXT, "msgtype": "text"}, "msgtype"),
    ([{"external_userid": ["wm0"]}], "body"),
]


def test_each_rule_is_a_400_naming_the_field_and_no_wecom_call(sim: SimulatorHandle, call: Any) -> None:
    """Every case of the matrix on one table (one loop, not one moto table per case): none may store a
    campaign or call WeCom."""
    for body, field in VALIDATION_MATRIX:
        status, _, doc = call("POST", "/admin/campaigns", body)
        assert status == 400, (field, doc)
        assert doc["error"]["code"] == "invalid_request", field
        assert doc["error"]["field"] == field, doc
        assert calls(sim.state, "") == [], field  # not even gettoken
        assert call("GET", "/admin/campaigns")[2]["items"] == [], field


def test_body_and_header_errors(sim: SimulatorHandle, call: Any) -> None:
    assert call("POST", "/admin/campaigns", raw="{oops")[2]["error"]["field"] == "body"
    assert call("POST", "/admin/campaigns")[2]["error"]["field"] == "body"
    status, _, doc = call(
        "POST",
        "/admin/campaigns",
        {"external_userid": ["wm0"], "text": TEXT},
        headers={"Idempotency-Key": "a b"},
    )
    assert (status, doc["error"]["field"]) == (400, "Idempotency-Key")
    assert calls(sim.state, "") == []


def test_valid_bodies_pass_validation() -> None:
    now = int(time.time())
    spec = parse_campaign(
        {"external_userid": ["a", "b", "a"], "text": TEXT, "attachments": [LINK, MINI], "allow_select": True},
        now,
        UTC,
    )
    assert spec["external_userid"] == ["a", "b"] and spec["chat_type"] == "single"
    assert parse_campaign({"tag_filter": {"group_list": [{"tag_list": ["t1"]}]}, "text": TEXT}, now, UTC)[
        "tag_filter"
    ]
    assert parse_campaign({"sender": "zhangsan", "attachments": [LINK]}, now, UTC)["text"] is None
    group = parse_campaign({"chat_type": "group", "sender": "zhangsan", "text": TEXT}, now, UTC)
    assert group["chat_id_list"] == [] and group["reminders"]["every_minutes"] == 360


def test_create_replay_conflict_over_http(sim: SimulatorHandle, call: Any) -> None:
    body = {"external_userid": ["wm0", "wm1", "wmGhost"], "text": TEXT, "name": "http"}
    status, headers, created = call("POST", "/admin/campaigns", body, headers={"Idempotency-Key": "k-1"})
    assert status == 201
    assert set(created) >= {"campaign_id", "status", "msgids", "fail_list"}
    assert (
        created["status"] == "active" and len(created["msgids"]) == 1 and created["fail_list"] == ["wmGhost"]
    )
    assert "Idempotent-Replayed" not in headers
    status, headers, replay = call("POST", "/admin/campaigns", body, headers={"idempotency-key": "k-1"})
    assert (status, headers.get("Idempotent-Replayed"), replay) == (200, "true", created)
    status, _, conflict = call(
        "POST", "/admin/campaigns", {**body, "name": "other"}, headers={"Idempotency-Key": "k-1"}
    )
    assert status == 409 and conflict["error"]["code"] == "idempotency_conflict"
    assert conflict["error"]["campaign_id"] == created["campaign_id"]
    assert len(calls(sim.state, "add_msg_template")) == 1


@pytest.mark.usefixtures("sim")
def test_show_list_results_cancel_remind_over_http(call: Any) -> None:
    _, _, created = call("POST", "/admin/campaigns", {"external_userid": ["wm0"], "text": TEXT})
    cid = created["campaign_id"]
    status, _, shown = call("GET", f"/admin/campaigns/{cid}")
    assert status == 200 and shown["msgids"] == created["msgids"] and shown["reminders"] == []
    assert shown["totals"]["customers"] == {"sent": 0, "unsent": 0, "not_friend": 0, "limit_reached": 0}
    status, _, listed = call("GET", "/admin/campaigns", query={"status": "active", "limit": "10"})
    assert status == 200 and [c["campaign_id"] for c in listed["items"]] == [cid]
    assert call("GET", "/admin/campaigns", query={"status": "nope"})[2]["error"]["field"] == "status"
    assert call("GET", "/admin/campaigns", query={"cursor": "garbage"})[2]["error"]["field"] == "cursor"

    assert call("GET", f"/admin/campaigns/{cid}/results")[2] == {"items": [], "cursor": None}
    status, headers, csv_text = call("GET", f"/admin/campaigns/{cid}/results", query={"format": "csv"})
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert csv_text == "msgid,userid,external_userid,chat_id,status,send_time\n"
    assert call("GET", f"/admin/campaigns/{cid}/results", query={"status": "x"})[0] == 400

    for _ in range(3):
        status, _, reminded = call("POST", f"/admin/campaigns/{cid}/remind")
        assert status == 200 and reminded["reminded"] == created["msgids"]
    status, _, refused = call("POST", f"/admin/campaigns/{cid}/remind")
    assert status == 429 and refused["error"]["code"] == "reminder_limit"
    assert refused["error"]["next_allowed_at"] > time.time() + 23 * 3600
    assert [r["trigger"] for r in call("GET", f"/admin/campaigns/{cid}")[2]["reminders"]] == ["manual"] * 3

    status, _, cancelled = call("POST", f"/admin/campaigns/{cid}/cancel")
    assert (
        status == 200 and cancelled["status"] == "cancelled" and cancelled["cancelled"] == created["msgids"]
    )
    status, _, again = call("POST", f"/admin/campaigns/{cid}/remind")
    assert (status, again["error"]["code"]) == (409, "invalid_state")


@pytest.mark.usefixtures("sim")
@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("POST", "/cancel"), ("POST", "/remind"), ("GET", "/results")]
)
def test_unknown_campaigns_are_404(call: Any, method: str, suffix: str) -> None:
    for cid in ("cmp-nope", "x" * 300):
        status, _, doc = call(method, f"/admin/campaigns/{cid}{suffix}")
        assert (status, doc["error"]["code"]) == (404, "not_found")


@pytest.mark.usefixtures("sim")
def test_wecom_refusal_keeps_its_errcode(call: Any) -> None:
    status, _, doc = call(
        "POST", "/admin/campaigns", {"external_userid": ["wm0"], "sender": "ghost", "text": TEXT}
    )
    assert status == 400 and doc["error"]["code"] == "wecom_error" and doc["error"]["errcode"] == 40003


def test_openapi_describes_every_campaign_route(call: Any) -> None:
    _, _, document = call("GET", "/admin/openapi.json")
    paths = document["paths"]
    served = {
        ("post", "/admin/campaigns"),
        ("get", "/admin/campaigns"),
        ("get", "/admin/campaigns/{campaign_id}"),
        ("post", "/admin/campaigns/{campaign_id}/cancel"),
        ("post", "/admin/campaigns/{campaign_id}/remind"),
        ("get", "/admin/campaigns/{campaign_id}/results"),
        ("post", "/admin/campaigns/preview"),
        ("get", "/admin/campaigns/{campaign_id}/skipped"),
    }
    assert {(m, p) for p, ops in paths.items() for m in ops if p.startswith("/admin/campaigns")} >= served
    body = paths["/admin/campaigns"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    from wecom_bundle.campaigns.validation import FIELDS

    assert set(body["properties"]) == set(FIELDS)
    assert "429" in paths["/admin/campaigns/{campaign_id}/remind"]["post"]["responses"]
    preview = paths["/admin/campaigns/preview"]["post"]
    assert preview["requestBody"]["content"]["application/json"]["schema"] == body  # the create's model
    assert preview["parameters"] == paths["/admin/campaigns"]["post"]["parameters"]  # and its header
    assert set(preview["responses"]) == {"200", "400", "503"}  # 503: past its time budget


# ---------------------------------------------------------------------------------------------- fuzz
_SCALARS = json_scalars(st.text(max_size=20))
_JSON = json_values(_SCALARS, st.text(max_size=8), max_leaves=12)
_IDS = st.lists(st.sampled_from(["wm0", "wm1", "wmX", "", "wr1"]) | st.text(max_size=6), max_size=5)
_ATTACHMENT = st.fixed_dictionaries(
    {"msgtype": st.sampled_from(["image", "link", "miniprogram", "video", "file", "x"])},
    optional={
        k: _JSON
        | st.fixed_dictionaries(
            {},
            optional={
                f: _SCALARS for f in ("title", "url", "media_id", "pic_url", "appid", "page", "pic_media_id")
            },
        )
        for k in ("image", "link", "miniprogram", "video", "file")
    },
)
_FIELD_VALUES = {
    "chat_type": st.sampled_from(["single", "group", "x"]) | _SCALARS,
    "external_userid": _IDS | _JSON,
    "chat_id_list": _IDS | _JSON,
    "sender": st.sampled_from(["zhangsan", "ghost"]) | _SCALARS,
    "text": st.fixed_dictionaries({"content": st.text(max_size=10) | _SCALARS}) | _JSON,
    "attachments": st.lists(_ATTACHMENT, max_size=3) | _JSON,
    "tag_filter": st.fixed_dictionaries(
        {"group_list": st.lists(st.fixed_dictionaries({"tag_list": _IDS}), max_size=2)}
    )
    | _JSON,
    "allow_select": _SCALARS,
    "name": _SCALARS,
    "send_at": _SCALARS | st.integers(0, 2**35),
    "reminders": st.fixed_dictionaries(
        {},
        optional={
            k: _SCALARS for k in ("first_after_minutes", "every_minutes", "stop_after_hours", "enabled")
        },
    )
    | _JSON,
    "extra": _JSON,
}
# A valid body with one to three fields replaced or added: most examples get past the first check.
_CAMPAIGN = (
    st.lists(st.sampled_from(sorted(_FIELD_VALUES)), max_size=3, unique=True)
    .flatmap(lambda keys: st.fixed_dictionaries({k: _FIELD_VALUES[k] for k in keys}))
    .map(lambda changes: {"external_userid": ["wm0", "wm1"], "text": {"content": "hi"}, **changes})
)


@pytest.mark.usefixtures("sim")
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_CAMPAIGN | _JSON, key=st.none() | st.text(max_size=12))
def test_fuzzed_create_bodies_never_answer_5xx(call: Any, body: Any, key: str | None) -> None:
    headers = {"Idempotency-Key": key} if key is not None else None
    try:
        status, _, doc = call("POST", "/admin/campaigns", body, headers=headers)
    except UnicodeEncodeError:  # a header value HTTP cannot carry never reaches the function
        return
    assert status < 500, doc
    assert status in (200, 201, 202) or set(doc["error"]) >= {"code", "message"}


@pytest.mark.usefixtures("sim")
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=st.dictionaries(
        st.sampled_from(["status", "limit", "cursor", "format"]), st.text(max_size=12), max_size=4
    ),
    cid=st.text(st.characters(codec="ascii", exclude_characters="/?#%"), min_size=1, max_size=80),
)
def test_fuzzed_reads_never_answer_5xx(call: Any, query: dict[str, str], cid: str) -> None:
    assert call("GET", "/admin/campaigns", query=query)[0] < 500
    for method, suffix in (("GET", ""), ("GET", "/results"), ("POST", "/remind"), ("POST", "/cancel")):
        status, _, doc = call(method, f"/admin/campaigns/{cid}{suffix}", query=query)
        assert status < 500, doc
