"""Hostile admin inputs found by hand: each is a 400 naming the field, never a
5xx, and changes nothing (the table is compared before and after). Through the real AdminFunction."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from local.events import http_event
from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import function_under_test, table_snapshot, with_campaign_customers
from wecom_bundle.welcome import repo as welcome_repo

pytestmark = pytest.mark.usefixtures("moto_table")
RULE = {"text": {"content": "hello"}}


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


def _send(
    admin: Any,
    method: str,
    path: str,
    body: str | None = None,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    base64_body: bytes | None = None,
) -> tuple[int, Any]:
    event = http_event(
        method, path, query, body, {"content-type": "application/json", **(headers or {})}, params
    )
    if base64_body is not None:
        event["body"], event["isBase64Encoded"] = base64.b64encode(base64_body).decode(), True
    answer = admin(event)
    text = answer.get("body") or ""
    return answer["statusCode"], json.loads(text) if text else None


def _refused(
    admin: Any, table: Any, field: str, method: str, path: str, body: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    before = table_snapshot(table)
    status, doc = _send(admin, method, path, body, **kwargs)
    assert (status, doc["error"]["code"], doc["error"]["field"]) == (400, "invalid_request", field), doc
    assert table_snapshot(table) == before
    return doc


def _put_rule(admin: Any, table: Any, field: str, body: str | None = None, **kwargs: Any) -> None:
    _refused(admin, table, field, "PUT", "/admin/welcome-rules/r1", body, params={"rule_id": "r1"}, **kwargs)


# ------------------------------------------------------------------------------------------------ bodies
def test_a_body_that_is_not_utf8_is_400(admin: Any, moto_table: Any) -> None:
    _put_rule(admin, moto_table, "body", base64_body=b'{"text": {"content": "\xff\xfe"}}')


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_json_nested_deeper_than_dynamodb_allows_is_400(admin: Any, moto_table: Any, depth: int) -> None:
    nested = '{"text": ' + "[" * depth + "]" * depth + "}"
    doc = _refused(
        admin, moto_table, "body", "PUT", "/admin/welcome-rules/r1", nested, params={"rule_id": "r1"}
    )
    assert "nests deeper" in doc["error"]["message"]


@pytest.mark.usefixtures("moto_table")
def test_json_nested_past_the_limit_names_the_path(admin: Any) -> None:
    match: Any = "x"
    for _ in range(40):
        match = {"a": match}
    body = json.dumps({"text": {"content": "hi"}, "match": match})
    status, doc = _send(admin, "PUT", "/admin/welcome-rules/r1", body, params={"rule_id": "r1"})
    assert status == 400 and doc["error"]["field"].startswith("match.a.a.")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"text": {"content": "hi \\ud800"}}', "text.content"),
        ('{"text": {"content": "hi"}, "description": "\\udfff"}', "description"),
        ('{"text": {"content": "hi"}, "match": {"state": "a\\u0000b"}}', "match.state"),
        ('{"text": {"content": "hi"}, "\\ud83d": 1}', "body"),
    ],
)
def test_lone_surrogates_and_nul_are_400(admin: Any, moto_table: Any, raw: str, field: str) -> None:
    _put_rule(admin, moto_table, field, raw)


@pytest.mark.parametrize(
    ("match", "field"),
    [
        ({"state": "s" * 1_000_000}, "match.state"),
        ({"state": "s" * 31}, "match.state"),
        ({"state_prefix": "p" * 31}, "match.state_prefix"),
        ({"userid": "u" * 65}, "match.userid"),
    ],
)
def test_match_fields_over_their_limits_are_400(admin: Any, moto_table: Any, match: Any, field: str) -> None:
    _put_rule(admin, moto_table, field, json.dumps({**RULE, "match": match}))


def test_a_state_of_thirty_characters_is_fine(admin: Any) -> None:
    body = json.dumps({**RULE, "match": {"state": "s" * 30}})
    assert _send(admin, "PUT", "/admin/welcome-rules/r1", body, params={"rule_id": "r1"})[0] == 201


# ------------------------------------------------------------------------------------------------ since
@pytest.mark.parametrize(
    "since",
    [
        "1" * 13,
        "9" * 40,
        "0001-01-01",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-23:59",
        "10000-01-01T00:00:00Z",
        str(253_402_300_800),
        "1969-12-31T23:59:59Z",
    ],
)
def test_since_outside_the_supported_range_is_400(admin: Any, moto_table: Any, since: str) -> None:
    _refused(admin, moto_table, "since", "GET", "/admin/welcomes", query={"since": since})
    _refused(admin, moto_table, "since", "GET", "/admin/welcomes", query={"since": since, "userid": "u"})


def test_since_far_in_the_future_is_an_empty_page(admin: Any) -> None:
    for since in ("2999-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "99999999999"):
        for query in ({"since": since}, {"since": since, "userid": "u"}):
            assert _send(admin, "GET", "/admin/welcomes", query=query) == (200, {"items": [], "cursor": None})


# ------------------------------------------------------------------------------------------------ cursors
def _b64json(doc: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def _log(ext: str, user: str, create_time: int) -> None:
    key = f"k#{ext}#{user}#{create_time}"
    welcome_repo.claim_welcome(
        key, "o", 0, 1, {"external_userid": ext, "userid": user, "create_time": create_time}
    )
    welcome_repo.record_welcome_outcome(
        key,
        "o",
        {"outcome": "sent", "rule_id": "r", "errcode": None, "latency_ms": 1, "attempts": 1},
        external_userid=ext,
        userid=user,
        create_time=create_time,
    )


FORGED_WELCOME_CURSORS = [
    _b64json({"m": "0001-01", "k": None}),  # a month cursor of year 1
    _b64json({"m": "2026-01", "k": _b64json({"pk": "WELCOME#x", "sk": "WELCOME"})}),
    _b64json({"pk": "WELCOME#other", "sk": "WELCOME", "gsi1pk": "WLOG#CUSTOMER#c9", "gsi1sk": "0000000001"}),
    _b64json({"pk": "x"}),
    "a.b",
    "x" * 5000,
]


@pytest.mark.parametrize("query", [{}, {"external_userid": "c1"}, {"userid": "u1"}, {"state": "web"}])
def test_forged_welcome_log_cursors_are_400(admin: Any, moto_table: Any, query: Any) -> None:
    _log("c1", "u1", int(time.time()) - 5)
    for cursor in FORGED_WELCOME_CURSORS:  # one table per listing, every forged cursor on it
        _refused(admin, moto_table, "cursor", "GET", "/admin/welcomes", query={**query, "cursor": cursor})


def test_a_cursor_only_continues_its_own_listing(admin: Any, moto_table: Any) -> None:
    now = int(time.time())
    for i in range(3):
        _log("c1", "u1", now - 10 - i)
        _log("c2", "u2", now - 20 - i)
    status, page = _send(admin, "GET", "/admin/welcomes", query={"external_userid": "c1", "limit": "1"})
    assert status == 200 and page["cursor"]
    status, rest = _send(
        admin,
        "GET",
        "/admin/welcomes",
        query={"external_userid": "c1", "limit": "5", "cursor": page["cursor"]},
    )
    assert status == 200 and len(rest["items"]) == 2  # the genuine continuation works
    for other in (
        {"external_userid": "c2"},
        {"userid": "u1"},
        {},
        {"external_userid": "c1", "since": str(now)},
    ):
        _refused(
            admin, moto_table, "cursor", "GET", "/admin/welcomes", query={**other, "cursor": page["cursor"]}
        )
    tampered = page["cursor"][:-2] + ("AA" if not page["cursor"].endswith("AA") else "BB")
    _refused(
        admin,
        moto_table,
        "cursor",
        "GET",
        "/admin/welcomes",
        query={"external_userid": "c1", "cursor": tampered},
    )


@pytest.fixture
def sim(wecom_sim: SimulatorHandle) -> SimulatorHandle:
    return with_campaign_customers(wecom_sim)


def _create(admin: Any, name: str) -> str:
    body = json.dumps({"external_userid": ["wm0"], "text": {"content": "hi"}, "name": name})
    status, doc = _send(admin, "POST", "/admin/campaigns", body)
    assert status == 201, doc
    return str(doc["campaign_id"])


@pytest.mark.usefixtures("sim")
def test_forged_campaign_cursors_are_400(admin: Any, moto_table: Any) -> None:
    first, second = _create(admin, "a"), _create(admin, "b")
    forged = [
        _b64json({"pk": f"CAMPAIGN#{first}", "sk": "CAMPAIGN", "gsi1pk": "CAMPAIGNS", "gsi1sk": "0"}),
        _b64json({"pk": "CAMPAIGN#nope", "sk": "CAMPAIGN"}),
        _b64json({"i": 0, "k": {"pk": "RESULT#other", "sk": "x"}}),
        _b64json({"i": 99, "k": None}),
    ]
    results = f"/admin/campaigns/{first}/results"
    for cursor in forged:
        for status_filter in ({}, {"status": "active"}):
            _refused(
                admin,
                moto_table,
                "cursor",
                "GET",
                "/admin/campaigns",
                query={**status_filter, "cursor": cursor},
            )
        _refused(
            admin,
            moto_table,
            "cursor",
            "GET",
            results,
            query={"cursor": cursor},
            params={"campaign_id": first},
        )
    status, page = _send(admin, "GET", "/admin/campaigns", query={"limit": "1"})
    assert status == 200 and page["cursor"]
    assert _send(admin, "GET", "/admin/campaigns", query={"limit": "1", "cursor": page["cursor"]})[0] == 200
    # a cursor of the campaign list is not one of another listing
    _refused(
        admin,
        moto_table,
        "cursor",
        "GET",
        "/admin/campaigns",
        query={"status": "completed", "cursor": page["cursor"]},
    )
    _refused(
        admin,
        moto_table,
        "cursor",
        "GET",
        f"/admin/campaigns/{second}/results",
        query={"cursor": page["cursor"]},
        params={"campaign_id": second},
    )


# ------------------------------------------------------------------------------------------------ item 9
@pytest.mark.parametrize("key", ["", " ", "a b", "k\n", "é", "k" * 129])
def test_an_empty_or_malformed_idempotency_key_is_400(
    sim: SimulatorHandle, admin: Any, moto_table: Any, key: str
) -> None:
    body = json.dumps({"external_userid": ["wm0"], "text": {"content": "hi"}})
    for _ in range(2):  # the client's retry must not make a second campaign either
        _refused(
            admin,
            moto_table,
            "Idempotency-Key",
            "POST",
            "/admin/campaigns",
            body,
            headers={"Idempotency-Key": key},
        )
    assert calls(sim.state, "add_msg_template") == []
