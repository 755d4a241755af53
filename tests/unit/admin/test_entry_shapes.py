"""Shapes refused where a request enters: the admin models, so the layer's services need not re-check them.

Welcome rules, bucket references, page sizes, the reminder policy and the remind body: each input, through the
admin function, answers 400 ``invalid_request`` naming the field and stores nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import call_json, function_under_test
from wecom_bundle.welcome import repo as welcome_repo

pytestmark = pytest.mark.usefixtures("moto_table")


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


def _refused(answer: tuple[int, Any], field: str) -> None:
    status, doc = answer
    assert status == 400, doc
    assert doc["error"]["code"] == "invalid_request"
    assert doc["error"]["field"] == field


def _put_rule(admin: Any, rule_id: str, body: Any) -> tuple[int, Any]:
    return call_json(admin, "PUT", f"/admin/welcome-rules/{rule_id}", body, params={"rule_id": rule_id})


# ------------------------------------------------------------------------ welcome rules (were parse_rule's)
RULE_BODIES = [
    ({}, "text"),
    ({"text": {"content": ""}}, "text"),
    ({"text": {"content": "x" * 4001}}, "text.content"),
    ({"text": {"content": "好" * 1334}}, "text.content"),  # 4002 bytes in UTF-8
    ({"text": "hello"}, "text"),
    ({"text": {"content": "hi"}, "priority": "high"}, "priority"),
    ({"text": {"content": "hi"}, "priority": True}, "priority"),
    ({"text": {"content": "hi"}, "colour": "red"}, "colour"),
    ({"text": {"content": "hi"}, "match": {"stat": "x"}}, "match.stat"),
    ({"text": {"content": "hi"}, "match": {"state": ""}}, "match.state"),
    ({"text": {"content": "hi"}, "match": {"state": "a", "state_prefix": "a"}}, "match.state_prefix"),
    ({"text": {"content": "hi"}, "match": {"weekdays": [0]}}, "match.weekdays"),
    ({"text": {"content": "hi"}, "match": {"weekdays": [8]}}, "match.weekdays"),
    ({"text": {"content": "hi"}, "match": {"weekdays": []}}, "match.weekdays"),
    ({"text": {"content": "hi"}, "match": {"time_from": "09:00"}}, "match.time_to"),
    ({"text": {"content": "hi"}, "match": {"time_from": "9:00", "time_to": "18:00"}}, "match.time_from"),
    ({"text": {"content": "hi"}, "match": {"time_from": "09:00", "time_to": "24:00"}}, "match.time_to"),
    ({"text": {"content": "hi"}, "match": {"time_from": "09:00", "time_to": "09:00"}}, "match.time_to"),
    ({"attachments": [{"msgtype": "gif"}]}, "attachments[0].msgtype"),
    ({"attachments": [{"msgtype": "image"}]}, "attachments[0].image"),
    ({"attachments": [{"msgtype": "image", "image": {}}]}, "attachments[0].image.media_id"),
    # a part msgtype does not name (the layer's rule): a complete one, else the model names its missing title
    (
        {"attachments": [{"msgtype": "image", "link": {"title": "t", "url": "https://x"}}]},
        "attachments[0].link",
    ),
    ({"attachments": [{"msgtype": "link", "link": {"title": "t"}}]}, "attachments[0].link.url"),
    ({"attachments": [{"msgtype": "link", "link": {"url": "https://x"}}]}, "attachments[0].link.title"),
    (
        {"attachments": [{"msgtype": "link", "link": {"title": "t" * 129, "url": "https://x"}}]},
        "attachments[0].link.title",
    ),
    (
        {"attachments": [{"msgtype": "link", "link": {"title": "t", "url": "https://x", "desc": "d" * 513}}]},
        "attachments[0].link.desc",
    ),
    (
        {"attachments": [{"msgtype": "link", "link": {"title": "t", "url": "javascript:alert(1)"}}]},
        "attachments[0].link.url",
    ),
    (
        {
            "attachments": [
                {"msgtype": "miniprogram", "miniprogram": {"title": "t", "appid": "a", "page": "p"}}
            ]
        },
        "attachments[0].miniprogram.pic_media_id",
    ),
    (
        {
            "attachments": [
                {
                    "msgtype": "miniprogram",
                    "miniprogram": {"title": "t" * 65, "pic_media_id": "m", "appid": "a", "page": "p"},
                }
            ]
        },
        "attachments[0].miniprogram.title",
    ),
    ({"attachments": [{"msgtype": "video", "video": {}}]}, "attachments[0].video.media_id"),
    ({"attachments": [{"msgtype": "file", "file": {"media_id": 5}}]}, "attachments[0].file.media_id"),
    ({"attachments": [{"msgtype": "file", "file": {"media_id": "m"}}] * 10}, "attachments"),
    ({"attachments": {"msgtype": "file"}}, "attachments"),
]


def test_invalid_rule_names_the_field(admin: Any) -> None:
    for body, field in RULE_BODIES:  # one table for all: none may store the rule
        _refused(_put_rule(admin, "r1", body), field)
        assert welcome_repo.get_rule("r1") is None, field


@pytest.mark.parametrize("rule_id", ["a b", "x" * 65, "..%2Fetc", "规则"])
def test_invalid_rule_id(admin: Any, rule_id: str) -> None:
    _refused(_put_rule(admin, rule_id, {"text": {"content": "hi"}}), "rule_id")


def test_an_empty_rule_id_reaches_no_rule(admin: Any) -> None:
    """``/admin/welcome-rules/`` names no rule (the layer's test refused ``""`` as ``rule_id``): no route takes
    it, so it never reaches the layer."""
    status, doc = call_json(admin, "PUT", "/admin/welcome-rules/", {"text": {"content": "hi"}})
    assert (status, doc["error"]["code"]) == (404, "not_found")
    assert welcome_repo.list_rules() == []


# ------------------------------------------------------------------ bucket references (were content's)
@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        ({"msgtype": "file", "file": {"s3_key": "x", "media_id": "y"}}, "attachments[0].file.s3_key"),
        ({"msgtype": "file", "file": {}}, "attachments[0].file.media_id"),
        ({"msgtype": "file", "file": {"s3_key": ""}}, "attachments[0].file.s3_key"),
        ({"msgtype": "file", "file": {"s3_key": "/abs"}}, "attachments[0].file.s3_key"),
        ({"msgtype": "file", "file": {"s3_key": "a/../b"}}, "attachments[0].file.s3_key"),
        ({"msgtype": "file", "file": {"s3_key": "a\nb"}}, "attachments[0].file.s3_key"),
        ({"msgtype": "file", "file": {"s3_key": "k" * 1025}}, "attachments[0].file.s3_key"),
        (
            {"msgtype": "image", "image": {"pic_url": "https://x", "pic_s3_key": "y"}},
            "attachments[0].image.pic_s3_key",
        ),
        ({"msgtype": "image", "image": {}}, "attachments[0].image.media_id"),
    ],
)
def test_bad_references_are_rejected(admin: Any, attachment: dict[str, Any], field: str) -> None:
    _refused(_put_rule(admin, "r1", {"attachments": [attachment]}), field)
    assert welcome_repo.get_rule("r1") is None


# ------------------------------------------------------------------------ page sizes (were parse_limit's)
@pytest.mark.parametrize("raw", ["²", "0", "101", "-1", "1.5", "ten", "١٢"])
def test_bad_limits_are_400(admin: Any, raw: str) -> None:
    _refused(call_json(admin, "GET", "/admin/welcomes", query={"limit": raw}), "limit")


# ------------------------------------------------------------------------------ the reminder policy
@pytest.mark.parametrize(
    ("reminders", "field"),
    [
        ({"every_minutes": 0}, "reminders.every_minutes"),
        ({"first_after_minutes": -1}, "reminders.first_after_minutes"),
        ({"stop_after_hours": "72"}, "reminders.stop_after_hours"),
        ({"enabled": "yes"}, "reminders.enabled"),
        ({"cap": 5}, "reminders.cap"),
        ([], "reminders"),
    ],
)
def test_bad_reminder_policies_are_400(admin: Any, reminders: Any, field: str) -> None:
    body = {"external_userid": ["wm0"], "text": {"content": "hi"}, "reminders": reminders}
    _refused(call_json(admin, "POST", "/admin/campaigns", body), field)
    assert call_json(admin, "GET", "/admin/campaigns")[1]["items"] == []


# ------------------------------------------------------------------------------ the remind body
def test_a_remind_body_with_an_unknown_key_is_400(admin: Any) -> None:
    answer = call_json(
        admin,
        "POST",
        "/admin/campaigns/cmp-1/remind",
        {"everyone": True},
        params={"campaign_id": "cmp-1"},
    )
    _refused(answer, "body")
