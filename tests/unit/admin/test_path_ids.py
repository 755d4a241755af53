"""Path ids reach every admin route percent-decoded, validated once on the decoded value.

API Gateway's payload carries the path as the client sent it (``rawPath``) and Powertools matches routes on
it, so ``GET /admin/customers/wm%2Fp3slash`` must look up ``wm/p3slash``; the route list comes from
template.yaml, so a new route with a parameter is covered without editing this file.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from local.template import load_template
from tests.support import call_json, function_under_test
from wecom_bundle.welcome import repo as welcome_repo

pytestmark = pytest.mark.usefixtures("moto_table")

PARAM = re.compile(r"\{(\w+)\}")
PARAM_ROUTES = sorted(
    (r.method, r.path) for r in load_template().routes if r.function_id == "AdminFunction" and "{" in r.path
)
ENCODED = "ab%2Dc%5Fd"  # "ab-c_d": valid for every id pattern once decoded; never valid (a "%") as sent


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


def _path(template: str, raw_id: str) -> str:
    return PARAM.sub(raw_id, template)


def test_every_admin_route_with_a_parameter_is_listed() -> None:
    assert len(PARAM_ROUTES) >= 14, PARAM_ROUTES
    assert ("GET", "/admin/customers/{external_userid}") in PARAM_ROUTES


@pytest.mark.parametrize(("method", "template"), PARAM_ROUTES)
def test_every_route_receives_the_decoded_id(admin: Any, method: str, template: str) -> None:
    """The encoded id is never refused as itself nor echoed back: the route saw ``ab-c_d``."""
    status, body = call_json(
        admin, method, _path(template, ENCODED), {} if method in ("PUT", "POST") else None
    )
    names = set(PARAM.findall(template))
    error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
    assert not (status == 400 and error.get("field") in names), (status, body)
    assert "%2D" not in str(body) and "%2d" not in str(body), body
    # No WeCom here: a route that asks it may answer 503 wecom_unavailable, never another server error.
    assert status < 500 or error.get("code") == "wecom_unavailable", (status, body)


@pytest.mark.parametrize(("method", "template"), PARAM_ROUTES)
def test_an_id_that_is_not_utf8_is_400_naming_it(admin: Any, method: str, template: str) -> None:
    status, body = call_json(
        admin, method, _path(template, "a%FFb"), {} if method in ("PUT", "POST") else None
    )
    assert status == 400, body
    assert body["error"]["field"] in set(PARAM.findall(template))
    assert "%FF" not in str(body)


def test_a_rule_put_by_its_id_is_read_through_its_encoded_id(admin: Any) -> None:
    rule = {"priority": 10, "match": {"state_prefix": "p-"}, "text": {"content": "hi"}}
    status, _ = call_json(admin, "PUT", "/admin/welcome-rules/r.1", rule)
    assert status in (200, 201)
    status, body = call_json(admin, "GET", "/admin/welcome-rules/r%2E1")
    assert (status, body["rule_id"]) == (200, "r.1")


def _welcome(ext: str, create_time: int) -> None:
    key = f"corp#{ext}#u1#add_external_contact#{create_time}"
    fields = {"external_userid": ext, "userid": "u1", "state": "s", "create_time": create_time}
    welcome_repo.claim_welcome(key, "o", 0, 1, fields)
    outcome = {"outcome": "sent", "rule_id": "r", "errcode": None, "latency_ms": 5, "attempts": 1}
    welcome_repo.record_welcome_outcome(
        key, "o", outcome, external_userid=ext, userid="u1", create_time=create_time
    )


@pytest.mark.parametrize("ext", ["wm/p3slash", "顾客" * 10, "wm a+b%c"])
def test_a_customer_is_found_by_its_quoted_id(admin: Any, ext: str) -> None:
    """20 CJK characters are 60 bytes of UTF-8 (under the 128-byte limit) but 180 characters encoded."""
    _welcome(ext, 1_700_000_000)
    status, body = call_json(admin, "GET", f"/admin/customers/{quote(ext, safe='')}")
    assert status == 200, body
    assert body["external_userid"] == ext
    assert [w["create_time"] for w in body["welcomes"]] == [1_700_000_000]


def test_the_byte_limit_is_measured_on_the_decoded_id(admin: Any) -> None:
    status, body = call_json(admin, "GET", f"/admin/customers/{quote('顾' * 43, safe='')}")  # 129 bytes
    assert (status, body["error"]["field"]) == (400, "external_userid")
