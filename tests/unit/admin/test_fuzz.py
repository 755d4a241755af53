"""Every admin route of the OpenAPI document, fuzzed: arbitrary JSON, headers, path
and query values, and bodies that are not JSON (text, binary, invalid UTF-8, lone surrogates, deep nesting).
Never a 5xx; a refused request (4xx) changes nothing in the table. Through the real AdminFunction, with
moto and the WeCom simulator. Bounded: ~300 requests, well under a minute on a busy 2-core machine."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from local.events import http_event
from local.wecom_sim.server import SimulatorHandle
from tests.strategies import json_scalars, json_values
from tests.support import (
    FakeCaps,
    admin_document,
    function_under_test,
    table_snapshot,
    with_campaign_customers,
)
from wecom_bundle import runtime

pytestmark = pytest.mark.usefixtures("moto_table")
VERBS = ("get", "put", "post", "delete", "patch")


def _operations() -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(method, path template, operation, parameters) of every documented admin operation."""
    ops = []
    for path, item in admin_document()["paths"].items():
        shared = item.get("parameters", [])
        for verb, operation in item.items():
            if verb in VERBS:
                ops.append((verb.upper(), path, operation, [*shared, *operation.get("parameters", [])]))
    return ops


OPERATIONS = _operations()

_TEXT = st.text(max_size=16)
_SCALARS = json_scalars(_TEXT, int_bound=2**63, allow_nan=True)
_JSON = json_values(_SCALARS, _TEXT, max_leaves=12)
_HOSTILE_RAW = st.sampled_from(
    [
        '{"text": {"content": "\\ud800"}}',
        '{"\\udfff": 1}',
        "[" * 3000 + "]" * 3000,
        '{"a":' * 50 + "1" + "}" * 50,
        '{"external_userid": ["wm0"], "text": {"content": "hi"}, "send_at": 99999999999999999999}',
        '{"match": {"state": "' + "s" * 100_000 + '"}, "text": {"content": "x"}}',
        "\x00",
        "null",
        "",
    ]
)
_QUERY_VALUES = _TEXT | st.sampled_from(
    ["0", "1", "100", "1" * 13, "0001-01-01", "9999-12-31T23:59:59-23:59", "csv", "json", "active", "sent"]
    + [
        base64.urlsafe_b64encode(json.dumps(d).encode()).decode()
        for d in ({"m": "0001-01"}, {"i": 5, "k": None})
    ]
)
_HEADER_NAMES = st.sampled_from(["idempotency-key", "content-type", "accept", "x-amz-date"]) | st.text(
    "abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12
)


KNOWN = "@known"  # a path value replaced by the id of a seeded rule / campaign / template
# Valid bodies per route, mutated by the fuzzer (one field replaced or added), so requests get past the
# first check and reach deeper validation, storage and WeCom.
SEEDS: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/admin/welcome-rules/{rule_id}"): {
        "text": {"content": "hi %NICKNAME%"},
        "match": {"state": "web"},
    },
    ("POST", "/admin/campaigns"): {"external_userid": ["wm0", "wm1"], "text": {"content": "hi"}},
    ("POST", "/admin/campaigns/preview"): {"external_userid": ["wm0", "wm1"], "text": {"content": "hi"}},
    ("POST", "/admin/campaigns/{campaign_id}/remind"): {},
    ("POST", "/admin/group-welcome-templates"): {"text": {"content": "hi"}},
    ("PUT", "/admin/group-welcome-templates/{template_id}"): {"text": {"content": "hello"}},
    ("POST", "/admin/group-welcome-templates/reconcile"): {"repair": False},
    ("PUT", "/admin/channels/{channel_id}"): {"name": "expo", "members": ["zhangsan"]},
    ("POST", "/admin/channels/reconcile"): {"repair": False},
}


def _mutated(seed: dict[str, Any], keys: list[str]) -> st.SearchStrategy[Any]:
    names = st.sampled_from(keys) | _TEXT if keys else _TEXT
    return st.tuples(names, _JSON, st.booleans()).map(
        lambda change: {**seed, change[0]: change[1]} if change[2] else seed
    )


def _body_for(
    method: str, template: str, operation: dict[str, Any]
) -> st.SearchStrategy[tuple[str | None, bool]]:
    """(body, isBase64Encoded): mutated valid bodies, schema-shaped objects with arbitrary values, any JSON,
    text, bytes."""
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    keys = sorted(schema.get("properties", {}))
    shaped = st.fixed_dictionaries({}, optional={key: _JSON for key in keys}) if keys else _JSON
    as_json = (shaped | _JSON).map(lambda doc: (json.dumps(doc), False))
    seed = SEEDS.get((method, template))
    if seed is not None:  # half of the bodies: a valid one, maybe mutated
        seeded = _mutated(seed, keys).map(lambda doc: (json.dumps(doc), False))
        as_json = seeded | seeded | seeded | seeded | as_json
    as_text = (st.text(max_size=40) | _HOSTILE_RAW).map(lambda text: (text, False))
    as_bytes = st.binary(max_size=40).map(lambda raw: (base64.b64encode(raw).decode(), True))
    return as_json | as_json | as_json | st.none().map(lambda _: (None, False)) | as_text | as_bytes


@st.composite
def requests_(draw: st.DrawFn) -> dict[str, Any]:
    method, template, operation, parameters = draw(st.sampled_from(OPERATIONS))
    path_params: dict[str, str] = {}
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    for parameter in parameters:
        name = parameter["name"]
        if parameter["in"] == "path":
            value = draw(
                st.sampled_from([KNOWN, KNOWN, "default", "cmp1"]) | st.text(min_size=1, max_size=70)
            )
            path_params[name] = value
        elif parameter["in"] == "query" and draw(st.booleans()):
            query[name] = draw(_QUERY_VALUES)
        elif parameter["in"] == "header" and draw(st.booleans()):
            headers[name.lower()] = draw(_TEXT | st.just("") | st.just("k-1"))
    query.update(draw(st.dictionaries(_TEXT.filter(bool), _TEXT, max_size=2)))
    headers.update(draw(st.dictionaries(_HEADER_NAMES, _TEXT, max_size=3)))
    body, is_b64 = draw(_body_for(method, template, operation))
    return {
        "method": method,
        "template": template,
        "params": path_params,
        "query": query,
        "headers": headers,
        "body": body,
        "b64": is_b64,
    }


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


@pytest.fixture
def sim(wecom_sim: SimulatorHandle) -> Iterator[SimulatorHandle]:
    """The campaign customers, wm1 capped (previews and skip_capped creates have a cap to ask)."""
    with runtime.overriding(cap_check=FakeCaps({"wm1"})):
        yield with_campaign_customers(wecom_sim)


def _data(table: Any) -> list[dict[str, Any]]:
    """The table without the shared access-token cache: a refused request may well have needed a token
    (e.g. WeCom answered "no such template"); caching it is not a change of operator data."""
    return [item for item in table_snapshot(table) if not str(item["pk"]).startswith("TOKEN#")]


@pytest.fixture
def seeded(sim: SimulatorHandle, admin: Any) -> dict[str, str]:  # noqa: ARG001
    """A rule, a campaign, a group template, a customer and a channel that fuzzed requests may address by their
    ids."""

    def create(method: str, path: str, body: dict[str, Any], params: dict[str, str] | None = None) -> Any:
        answer = admin(
            http_event(method, path, None, json.dumps(body), {"content-type": "application/json"}, params)
        )
        assert answer["statusCode"] in (200, 201), answer
        return json.loads(answer["body"])

    create("PUT", "/admin/welcome-rules/r1", {"text": {"content": "hi"}}, {"rule_id": "r1"})
    campaign = create("POST", "/admin/campaigns", {"external_userid": ["wm0"], "text": {"content": "hi"}})
    template = create("POST", "/admin/group-welcome-templates", {"text": {"content": "hi"}})
    channel = {"name": "expo", "members": ["zhangsan"]}
    create("PUT", "/admin/channels/expo", channel, {"channel_id": "expo"})
    return {
        "rule_id": "r1",
        "campaign_id": campaign["campaign_id"],
        "template_id": template["template_id"],
        "external_userid": "wm0",  # the campaign's customer (GET /admin/customers/{external_userid})
        "channel_id": "expo",
    }


def _resolve(request: dict[str, Any], seeded: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The request's path and path parameters with KNOWN replaced by the seeded ids."""
    path, params = request["template"], {}
    for name, value in request["params"].items():
        params[name] = seeded[name] if value == KNOWN else value
        path = path.replace("{" + name + "}", quote(params[name], safe=""))
    return path, params


def test_every_documented_route_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 19
    assert {("POST", "/admin/campaigns"), ("GET", "/admin/welcomes")} <= {(m, p) for m, p, _, _ in OPERATIONS}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests_())
def test_fuzzed_admin_requests_never_5xx_and_refusals_change_nothing(
    seeded: dict[str, str], admin: Any, moto_table: Any, request: dict[str, Any]
) -> None:
    path, params = _resolve(request, seeded)
    event = http_event(
        request["method"],
        path,
        request["query"],
        request["body"],
        {"content-type": "application/json", **request["headers"]},
        params,
    )
    event["isBase64Encoded"] = request["b64"]
    before = _data(moto_table)
    answer = admin(event)
    status = answer["statusCode"]
    note_event(f"{request['method']} {request['template']} -> {status}")
    assert status < 500, (request["method"], path, answer.get("body", "")[:300])
    if status >= 400:
        error = json.loads(answer["body"])["error"]
        assert error["code"] and error["message"]
        assert _data(moto_table) == before, (request["method"], path, error)
