"""AdminFunction in-process against moto: welcome rules and the welcome log, with the contract's errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support import call_json, function_under_test
from wecom_bundle.welcome import repo as welcome_repo

pytestmark = pytest.mark.usefixtures("moto_table")


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


@pytest.fixture
def call(admin: Any) -> Any:
    def _call(
        method: str, path: str, body: Any = None, query: dict[str, str] | None = None, raw: str | None = None
    ) -> tuple[int, Any]:
        params = {"rule_id": path.rsplit("/", 1)[1]} if path.startswith("/admin/welcome-rules/") else None
        return call_json(admin, method, path, body, params=params, query=query, raw=raw)

    return _call


RULE = {"priority": 10, "match": {"state_prefix": "expo-"}, "text": {"content": "你好 %NICKNAME%"}}


def test_rule_lifecycle(call: Any) -> None:
    status, created = call("PUT", "/admin/welcome-rules/expo", RULE)
    assert status == 201
    assert created["rule_id"] == "expo"
    assert created["match"] == {"state_prefix": "expo-"}
    status, replaced = call("PUT", "/admin/welcome-rules/expo", {**RULE, "priority": 20})
    assert (status, replaced["priority"]) == (200, 20)
    call("PUT", "/admin/welcome-rules/default", {"text": {"content": "hello"}})
    status, listing = call("GET", "/admin/welcome-rules")
    assert status == 200
    assert [r["rule_id"] for r in listing["items"]] == ["expo", "default"]
    assert call("GET", "/admin/welcome-rules/expo")[1]["priority"] == 20
    assert call("DELETE", "/admin/welcome-rules/expo") == (204, None)
    status, error = call("GET", "/admin/welcome-rules/expo")
    assert status == 404
    assert error["error"]["code"] == "not_found"
    assert call("DELETE", "/admin/welcome-rules/expo")[0] == 404


@pytest.mark.parametrize(
    ("body", "raw", "field"),
    [
        (None, "{not json", "body"),
        (None, "", "body"),
        ([1, 2], None, "body"),
        ({"priority": 1}, None, "text"),
        ({"text": {"content": "x" * 4001}}, None, "text.content"),
        ({"text": {"content": "x"}, "match": {"weekdays": [9]}}, None, "match.weekdays"),
        ({"attachments": [{"msgtype": "link", "link": {"title": "t"}}]}, None, "attachments[0].link.url"),
    ],
)
def test_bad_rule_is_400_naming_the_field_and_changes_nothing(
    call: Any, body: Any, raw: str | None, field: str
) -> None:
    status, error = call("PUT", "/admin/welcome-rules/r1", body, raw=raw)
    assert status == 400
    assert error["error"]["code"] == "invalid_request"
    assert error["error"]["field"] == field
    assert welcome_repo.get_rule("r1") is None


def test_bad_rule_id_is_400(call: Any) -> None:
    status, error = call("PUT", "/admin/welcome-rules/bad%20id", RULE)
    assert status == 400
    assert error["error"]["field"] == "rule_id"


def test_unknown_route_is_404_in_the_error_shape(call: Any) -> None:
    status, error = call("GET", "/admin/nothing-here")
    assert status == 404
    assert error["error"]["code"] == "not_found"


def test_openapi_document_lists_the_routes(call: Any) -> None:
    status, doc = call("GET", "/admin/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.")
    assert {"/admin/welcome-rules", "/admin/welcome-rules/{rule_id}", "/admin/welcomes"} <= set(doc["paths"])


def _log(ext: str, user: str, state: str, create_time: int, outcome: str = "sent") -> None:
    key = f"corp#{ext}#{user}#add_external_contact#{create_time}"
    welcome_repo.claim_welcome(
        key, "o", 0, 1, {"external_userid": ext, "userid": user, "state": state, "create_time": create_time}
    )
    welcome_repo.record_welcome_outcome(
        key,
        "o",
        {"outcome": outcome, "rule_id": "r", "errcode": None, "latency_ms": 120, "attempts": 1},
        external_userid=ext,
        userid=user,
        create_time=create_time,
    )


def test_welcome_log_filters_and_pages(call: Any) -> None:
    now = int(time.time())
    month_ago = now - 40 * 86400
    _log("c1", "u1", "web", now - 30)
    _log("c2", "u1", "expo", now - 20, "already_sent")
    _log("c1", "u2", "web", now - 10)
    _log("c3", "u3", "web", month_ago)
    status, page = call("GET", "/admin/welcomes", query={"limit": "2"})
    assert status == 200
    assert [(r["external_userid"], r["userid"]) for r in page["items"]] == [("c1", "u2"), ("c2", "u1")]
    assert {"outcome", "rule_id", "errcode", "latency_ms", "create_time", "state"} <= set(page["items"][0])
    assert "owner" not in page["items"][0]
    _, rest = call("GET", "/admin/welcomes", query={"limit": "5", "cursor": page["cursor"]})
    assert [r["external_userid"] for r in rest["items"]] == ["c1", "c3"]  # walks back into the previous month
    assert rest["cursor"] is None
    assert [
        r["userid"] for r in call("GET", "/admin/welcomes", query={"external_userid": "c1"})[1]["items"]
    ] == ["u2", "u1"]
    assert [
        r["external_userid"] for r in call("GET", "/admin/welcomes", query={"userid": "u1"})[1]["items"]
    ] == ["c2", "c1"]
    assert [
        r["external_userid"] for r in call("GET", "/admin/welcomes", query={"state": "expo"})[1]["items"]
    ] == ["c2"]
    recent = call("GET", "/admin/welcomes", query={"since": str(now - 25)})[1]["items"]
    assert [r["external_userid"] for r in recent] == ["c1", "c2"]
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 25))
    assert len(call("GET", "/admin/welcomes", query={"since": iso})[1]["items"]) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "garbage", "userid": "u"}, "cursor"),
    ],
)
def test_welcome_log_bad_query_is_400(call: Any, query: dict[str, str], field: str) -> None:
    status, error = call("GET", "/admin/welcomes", query=query)
    assert status == 400
    assert error["error"]["field"] == field
