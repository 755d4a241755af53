"""The OpenAPI document matches the routes template.yaml declares, and the welcome routes survive fuzzing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.events import http_event
from local.template import load_template
from tests.support import function_under_test
from wecom_bundle import openapi
from wecom_bundle.welcome import repo as welcome_repo


def _template_routes() -> set[tuple[str, str]]:
    return {(r.method.upper(), r.path) for r in load_template().routes if r.path.startswith("/admin")}


def _document_routes() -> set[tuple[str, str]]:
    verbs = {"get", "put", "post", "delete", "patch"}
    return {
        (verb.upper(), path)
        for path, item in openapi.document()["paths"].items()
        for verb in item
        if verb in verbs
    }


def test_every_documented_route_is_deployed() -> None:
    assert _document_routes() <= _template_routes()


def test_every_deployed_admin_route_is_documented() -> None:
    assert _template_routes() - _document_routes() == set()


def test_document_is_json_serialisable_and_versioned() -> None:
    doc = json.loads(json.dumps(openapi.document()))
    assert doc["openapi"].startswith("3.0")
    for item in doc["paths"].values():
        for verb, operation in item.items():
            if verb != "parameters":
                assert operation["operationId"]
                assert operation["responses"]


# ------------------------------------------------------------------------------------------------ fuzz
@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


def _call(
    admin: Any,
    method: str,
    path: str,
    body: str | None = None,
    query: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    event = http_event(method, path, query, body, {"content-type": "application/json"}, params)
    answer = admin(event)
    text = answer.get("body") or ""
    return answer["statusCode"], json.loads(text) if text else None


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
_MATCH = st.fixed_dictionaries(
    {},
    optional={
        "state": _SCALARS,
        "state_prefix": _SCALARS,
        "userid": _SCALARS,
        "weekdays": st.lists(st.integers(-1, 9), max_size=8) | _JSON,
        "time_from": st.sampled_from(["09:00", "23:59", "24:00", "9:00", ""]) | _SCALARS,
        "time_to": st.sampled_from(["18:00", "00:00", "99:99"]) | _SCALARS,
    },
)
_RULE = st.fixed_dictionaries(
    {},
    optional={
        "priority": _SCALARS,
        "match": _MATCH | _JSON,
        "text": st.fixed_dictionaries({}, optional={"content": st.text(max_size=50) | _SCALARS}) | _JSON,
        "attachments": st.lists(
            st.fixed_dictionaries(
                {"msgtype": st.sampled_from(["image", "link", "miniprogram", "video", "file", "gif"])},
                optional={k: _JSON for k in ("image", "link", "miniprogram", "video", "file")},
            ),
            max_size=10,
        )
        | _JSON,
        "description": _SCALARS,
    },
)


@pytest.mark.usefixtures("moto_table")
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_RULE | _JSON, rule_id=st.text(max_size=70))
def test_fuzzed_rule_writes_never_answer_5xx(admin: Any, body: Any, rule_id: str) -> None:
    path = f"/admin/welcome-rules/{quote(rule_id, safe='')}"
    status, doc = _call(admin, "PUT", path, json.dumps(body), params={"rule_id": rule_id})
    assert status < 500, doc
    if rule_id == "":
        assert status == 404  # "/admin/welcome-rules/" is no route
        return
    if status == 400:
        assert set(doc["error"]) >= {"code", "message", "field"}
        assert welcome_repo.get_rule(rule_id) is None  # a refused write changed nothing
    else:
        assert status in (200, 201)
        assert _call(admin, "GET", path, params={"rule_id": rule_id})[1]["rule_id"] == rule_id
        welcome_repo.delete_rule(rule_id)


@pytest.mark.usefixtures("moto_table")
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=st.dictionaries(
        st.sampled_from(["external_userid", "userid", "state", "since", "limit", "cursor"]),
        st.text(max_size=16),
        max_size=5,
    )
)
def test_fuzzed_welcome_log_reads_never_answer_5xx(admin: Any, query: dict[str, str]) -> None:
    status, doc = _call(admin, "GET", "/admin/welcomes", query=query)
    assert status in (200, 400), doc
    if status == 200:
        assert isinstance(doc["items"], list)


def test_attachment_schema_documents_bucket_references() -> None:
    attachment = openapi.ATTACHMENT["properties"]
    assert set(attachment["image"]["properties"]) == {"media_id", "s3_key", "pic_url", "pic_s3_key"}
    for kind in ("video", "file"):
        assert attachment[kind]["oneOf"] == [{"required": ["media_id"]}, {"required": ["s3_key"]}]
    assert {"required": ["pic_s3_key"]} in attachment["miniprogram"]["oneOf"]
