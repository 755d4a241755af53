"""%NICKNAME% never pushes a welcome past WeCom's 4 000-byte text limit.

Through the real CallbackFunction (signed callback → simulator over HTTP → moto) and the real AdminFunction.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from local.events import add_contact_fields, callback_post_event
from local.settings import DEV_DEFAULTS
from local.wecom_sim.endpoints_welcome import issue_welcome_code
from local.wecom_sim.server import SimulatorHandle
from tests.support import call_json, function_under_test, table_snapshot
from wecom_bundle.content import NICKNAME_MAX_BYTES, TEXT_MAX_BYTES, fit_nickname, worst_case_bytes
from wecom_bundle.welcome import repo as welcome_repo

pytestmark = pytest.mark.usefixtures("moto_table")
ENV = {
    k: DEV_DEFAULTS[k]
    for k in ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
}
NAME_24_BYTES = "王小明的客户账号"  # 8 characters of 3 bytes


def _customer(sim: SimulatorHandle, name: str) -> None:
    requests.post(
        f"{sim.url}/__sim/contacts",
        json={
            "members": ["zhangsan"],
            "customers": [{"external_userid": "wmC", "name": name, "owner": "zhangsan"}],
        },
        timeout=5,
    ).raise_for_status()


def _welcome_through_the_callback(sim: SimulatorHandle) -> tuple[dict[str, Any], Any]:
    """One signed add-contact callback; answers (the welcome log record, what the customer received)."""
    create_time = int(time.time())
    with sim.state.lock:
        code = issue_welcome_code(sim.state, "zhangsan", "wmC", create_time)
    fields = add_contact_fields(
        ENV, userid="zhangsan", external_userid="wmC", welcome_code=code, create_time=create_time
    )
    answer = function_under_test("CallbackFunction")(callback_post_event(ENV, fields))
    assert answer["statusCode"] == 200
    status, log = call_json(
        function_under_test("AdminFunction"), "GET", "/admin/welcomes", query={"userid": "zhangsan"}
    )
    assert status == 200 and len(log["items"]) == 1
    delivered = [w for w in sim.state.welcomes if w.welcome_code == code]
    return log["items"][0], delivered


def _stored_rule(content: str) -> None:
    """A rule as stored before this check existed (the admin API now refuses it): straight to storage."""
    welcome_repo.put_rule(
        {"rule_id": "long", "priority": 0, "match": {}, "text": {"content": content}, "attachments": []}
    )


@pytest.mark.parametrize("name", [NAME_24_BYTES, "😀" * 40, "n" * 500])
def test_a_long_rule_with_a_long_name_is_sent_within_the_limit(wecom_sim: SimulatorHandle, name: str) -> None:
    content = "Hi %NICKNAME%, " + "a" * (3994 - len("Hi %NICKNAME%, "))  # 3 994 bytes, as in the issue
    _stored_rule(content)
    _customer(wecom_sim, name)
    record, delivered = _welcome_through_the_callback(wecom_sim)
    assert record["outcome"] == "sent", record
    assert len(delivered) == 1
    text = delivered[0].body["text"]["content"]
    assert len(text.encode("utf-8")) <= TEXT_MAX_BYTES
    assert text.endswith("a" * 100) and "%NICKNAME%" not in text


def test_a_name_that_fits_is_sent_whole(wecom_sim: SimulatorHandle) -> None:
    _stored_rule("Hi %NICKNAME%, welcome")
    _customer(wecom_sim, NAME_24_BYTES)
    record, delivered = _welcome_through_the_callback(wecom_sim)
    assert record["outcome"] == "sent"
    assert delivered[0].body["text"]["content"] == f"Hi {NAME_24_BYTES}, welcome"


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        ("Hi %NICKNAME%", "Bob", "Bob"),
        ("%NICKNAME%" + "x" * 3988, "Bob", "Bob"),  # 3 991 bytes: 12 bytes of room
        ("%NICKNAME%" + "x" * 3989, "Bobby Tables", "Bobby Ta…"),  # 11 bytes of room: 8 + the ellipsis
        ("%NICKNAME%" + "x" * 3988, "😀😀😀😀", "😀😀…"),  # never half a character
        ("%NICKNAME%" + "x" * 3998, "Bob", None),  # 2 bytes of room: not even the ellipsis
        ("%NICKNAME% %NICKNAME%" + "x" * 3980, "abcdefghij", "abcdef…"),  # 19 bytes of room, two places
        ("no placeholder", "Bob", "Bob"),
        ("%NICKNAME%", "é" * 100, "é" * 64),  # the name itself is capped at NICKNAME_MAX_BYTES
    ],
)
def test_fit_nickname(content: str, name: str, expected: str | None) -> None:
    fitted = fit_nickname(content, name)
    assert fitted == expected
    if fitted is not None and "%NICKNAME%" in content:
        assert len(content.replace("%NICKNAME%", fitted).encode()) <= TEXT_MAX_BYTES
        assert len(fitted.encode()) <= NICKNAME_MAX_BYTES


# ------------------------------------------------------------------------------------------------ admin
def _put(content: str) -> tuple[int, Any]:
    admin = function_under_test("AdminFunction")
    return call_json(
        admin, "PUT", "/admin/welcome-rules/r1", {"text": {"content": content}}, params={"rule_id": "r1"}
    )


def test_rules_are_validated_with_the_longest_name(moto_table: Any) -> None:
    before = table_snapshot(moto_table)
    status, doc = _put("Hi %NICKNAME%, " + "a" * (3994 - 15))
    assert (status, doc["error"]["field"]) == (400, "text.content")
    assert str(NICKNAME_MAX_BYTES) in doc["error"]["message"]
    assert table_snapshot(moto_table) == before
    limit_content = "%NICKNAME%" + "a" * (TEXT_MAX_BYTES - NICKNAME_MAX_BYTES)
    assert worst_case_bytes(limit_content) == TEXT_MAX_BYTES
    assert _put(limit_content)[0] == 201  # exactly at the limit with the longest name


def test_the_admin_api_warns_when_a_rule_is_close_to_the_limit() -> None:
    status, doc = _put("Hi %NICKNAME%, " + "a" * 3600)
    assert status == 201
    assert [(w["field"], w["code"]) for w in doc["warnings"]] == [("text.content", "near_text_limit")]
    status, doc = _put("a" * 3700)  # no placeholder: close all the same
    assert status == 200 and doc["warnings"][0]["code"] == "near_text_limit"
    status, doc = _put("Hi %NICKNAME%, welcome")
    assert (status, doc["warnings"]) == (200, [])
    assert "warnings" not in (welcome_repo.get_rule("r1") or {})
    assert json.dumps(doc)  # the answer stays JSON
