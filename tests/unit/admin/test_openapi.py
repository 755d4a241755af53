"""The OpenAPI document the admin function generates from its models: every deployed admin route and only
those, the limits equal the constants they come from, and the document and the validators cannot disagree
(requests generated from the document's schemas are accepted unless the document itself says why not).
The welcome routes also survive fuzzing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from local.events import http_event
from local.template import load_template
from local.wecom_sim.server import SimulatorHandle
from tests.strategies import json_scalars, json_values
from tests.support import (
    FakeCaps,
    admin_document,
    function_under_test,
    with_campaign_customers,
)
from wecom_bundle import content, runtime, validation
from wecom_bundle.campaigns import reminder_policy
from wecom_bundle.campaigns import validation as campaign_validation
from wecom_bundle.group_templates import validation as group_template_validation
from wecom_bundle.welcome import repo as welcome_repo
from wecom_bundle.welcome import rules as welcome_rules

VERBS = {"get", "put", "post", "delete", "patch"}
DOC = admin_document()
SCHEMAS = DOC["components"]["schemas"]


def _template_routes() -> set[tuple[str, str]]:
    return {(r.method.upper(), r.path) for r in load_template().routes if r.path.startswith("/admin")}


def _document_routes() -> set[tuple[str, str]]:
    return {(verb.upper(), path) for path, item in DOC["paths"].items() for verb in item if verb in VERBS}


def test_every_documented_route_is_deployed() -> None:
    assert _document_routes() <= _template_routes()


def test_every_deployed_admin_route_is_documented() -> None:
    assert _template_routes() - _document_routes() == set()


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOC["paths"].items():
        for verb, operation in item.items():
            if verb in VERBS:
                yield verb, path, operation


def test_every_refusal_has_the_contract_shape_and_never_powertools_422() -> None:
    assert DOC["openapi"].startswith("3.")
    for verb, path, operation in _operations():
        assert operation["operationId"] and operation["responses"], (verb, path)
        assert "422" not in operation["responses"], (verb, path)
        takes_input = operation.get("parameters") or operation.get("requestBody")
        if takes_input and path != "/admin/openapi.json":
            error = operation["responses"]["400"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}, (verb, path)
    detail = SCHEMAS["ErrorDetail"]["properties"]
    assert {"code", "message", "field", "errcode"} == set(detail)
    assert not {"HTTPValidationError", "ResponseValidationError"} & set(SCHEMAS)


def _objects(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            yield schema
        for value in schema.values():
            yield from _objects(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _objects(value)


def test_unknown_fields_are_refused_everywhere() -> None:
    bodies = [operation["requestBody"] for _, _, operation in _operations() if "requestBody" in operation]
    objects = list(_objects([SCHEMAS, bodies]))
    request_models = [o for o in objects if o.get("title") not in ("ErrorBody", "ErrorDetail")]
    assert len(request_models) > 15
    assert all(o.get("additionalProperties") is False for o in request_models)


def _field(model: str, name: str) -> dict[str, Any]:
    """A property's schema, the ``null`` branch of an optional one dropped."""
    prop = SCHEMAS[model]["properties"][name]
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    return branches[0]


BYTE_LIMITS = [
    ("MessageText", "content", content.TEXT_MAX_BYTES),
    ("TemplateText", "content", group_template_validation.TEXT_MAX_BYTES),
    ("Link", "title", content.LINK_TITLE_MAX_BYTES),
    ("Link", "desc", content.LINK_DESC_MAX_BYTES),
    ("Miniprogram", "title", content.MINIPROGRAM_TITLE_MAX_BYTES),
    ("CampaignLink", "url", campaign_validation.MAX_URL_BYTES),
    ("CampaignLink", "picurl", campaign_validation.MAX_URL_BYTES),
    ("Image", "s3_key", content.S3_KEY_MAX_BYTES),
    ("Media", "s3_key", content.S3_KEY_MAX_BYTES),
    ("RuleBody", "description", welcome_rules.DESCRIPTION_MAX_BYTES),
]


@pytest.mark.parametrize(("model", "name", "limit"), BYTE_LIMITS, ids=[f"{m}.{n}" for m, n, _ in BYTE_LIMITS])
def test_byte_limits_are_the_constants_and_say_bytes(model: str, name: str, limit: int) -> None:
    field = _field(model, name)
    assert field["x-maxBytes"] == limit
    assert field["maxLength"] == limit  # a character is at least one byte: always true
    assert f"at most {limit} bytes of utf-8 (wecom counts bytes)" in field["description"].lower()


def test_campaign_limits_are_the_constants() -> None:
    body = DOC["paths"]["/admin/campaigns"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == set(campaign_validation.FIELDS)
    assert _field("CampaignBody", "external_userid")["maxItems"] == campaign_validation.MAX_AUDIENCE
    assert _field("CampaignBody", "chat_id_list")["maxItems"] == campaign_validation.MAX_CHAT_IDS
    assert (
        _field("CampaignBody", "external_userid")["items"]["x-maxBytes"] == campaign_validation.MAX_ID_BYTES
    )
    assert _field("CampaignBody", "sender")["x-maxBytes"] == campaign_validation.SENDER_MAX_BYTES
    assert _field("CampaignBody", "name")["maxLength"] == campaign_validation.MAX_NAME_CHARS
    assert _field("CampaignBody", "attachments")["maxItems"] == content.MAX_ATTACHMENTS
    assert _field("TagGroup", "tag_list")["maxItems"] == campaign_validation.MAX_TAGS_PER_GROUP
    every = _field("Reminders", "every_minutes")
    assert (every["minimum"], every["maximum"]) == (1, reminder_policy.MAX_MINUTES)
    assert _field("Reminders", "stop_after_hours")["maximum"] == reminder_policy.MAX_HOURS
    key = DOC["paths"]["/admin/campaigns"]["post"]["parameters"][0]
    assert (key["in"], key["name"].lower()) == ("header", "idempotency-key")  # header names: any case
    assert key["schema"]["anyOf"][0]["pattern"] == campaign_validation.IDEMPOTENCY_KEY.pattern


def test_rule_limits_and_the_id_pattern_are_the_constants() -> None:
    assert _field("Match", "state")["maxLength"] == welcome_rules.STATE_MAX_CHARS
    assert _field("Match", "userid")["maxLength"] == welcome_rules.USERID_MAX_CHARS
    priority = _field("RuleBody", "priority")
    assert (priority["minimum"], priority["maximum"]) == (
        -welcome_rules.PRIORITY_BOUND,
        welcome_rules.PRIORITY_BOUND,
    )
    assert _field("Match", "time_from")["pattern"] == welcome_rules.TIME_PATTERN.pattern
    assert _field("RuleBody", "attachments")["maxItems"] == content.MAX_ATTACHMENTS
    rule_id = DOC["paths"]["/admin/welcome-rules/{rule_id}"]["put"]["parameters"][0]
    assert rule_id["schema"]["pattern"] == welcome_rules.RULE_ID_PATTERN.pattern
    limit = next(p for p in DOC["paths"]["/admin/welcomes"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["anyOf"][0]["maximum"] == validation.MAX_PAGE
    rules = SCHEMAS["RuleBody"]["x-rules"]
    assert any(str(content.NICKNAME_MAX_BYTES) in r["rule"] for r in rules)


def test_channel_limits_and_the_id_pattern_are_the_constants() -> None:
    from wecom_bundle.channels import model as channel_model

    members = _field("ChannelBody", "members")
    assert (members["minItems"], members["maxItems"]) == (1, channel_model.MAX_MEMBERS)
    assert members["items"]["maxLength"] == channel_model.USERID_MAX_CHARS
    assert _field("ChannelBody", "name")["maxLength"] == channel_model.NAME_MAX_CHARS
    assert _field("ChannelBody", "remark")["maxLength"] == channel_model.REMARK_MAX_CHARS
    tags = _field("ChannelBody", "tags")
    assert (tags["maxItems"], tags["items"]["pattern"]) == (
        channel_model.MAX_TAGS,
        channel_model.TAG_ID_PATTERN.pattern,
    )
    assert _field("ChannelWelcome", "attachments")["maxItems"] == content.MAX_ATTACHMENTS
    assert _field("ChannelWelcome", "text") == {"$ref": "#/components/schemas/MessageText"}
    channel_id = DOC["paths"]["/admin/channels/{channel_id}"]["put"]["parameters"][0]
    assert channel_id["schema"]["pattern"] == channel_model.CHANNEL_ID_PATTERN.pattern
    assert ["members"] in [r["fields"] for r in SCHEMAS["ChannelBody"]["x-rules"]]


def test_attachment_schema_documents_bucket_references() -> None:
    assert set(SCHEMAS["Image"]["properties"]) == {"media_id", "s3_key", "pic_url", "pic_s3_key"}
    for kind in ("video", "file"):
        assert _field("Attachment", kind) == {"$ref": "#/components/schemas/Media"}
    assert {"media_id", "s3_key"} == set(SCHEMAS["Media"]["properties"])
    assert ["media_id", "s3_key"] in [r["fields"] for r in SCHEMAS["Media"]["x-rules"]]
    assert "pic_s3_key" in SCHEMAS["Miniprogram"]["properties"]


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


_SCALARS = json_scalars(st.text(max_size=12))
_JSON = json_values(_SCALARS, st.text(max_size=8), max_leaves=10)
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


# ------------------------------------------------------------------------------------------ agreement
# Requests generated from the document's own schemas go through the real admin function: each is accepted,
# or refused with a 400 naming a field the document says may be refused (a string over its x-maxBytes, or a
# field of one of its x-rules). A handful the document forbids are refused with a 400 naming the field.
def _explained(value: Any, schema: dict[str, Any], path: str = "") -> set[str]:
    """The fields of ``value`` the document itself allows a refusal of."""
    schema = _resolve(schema)
    branches = [_resolve(b) for b in schema.get("anyOf", [schema])]
    fields: set[str] = set()
    for branch in branches:
        if isinstance(value, str) and len(value.encode("utf-8")) > branch.get("x-maxBytes", float("inf")):
            fields.add(path)
        if isinstance(value, dict) and "properties" in branch:
            prefix = f"{path}." if path else ""
            fields |= {prefix + name for rule in branch.get("x-rules", []) for name in rule["fields"]}
            fields |= {f"{prefix}{name}.{rule}" for name in value for rule in ("content",)}
            for name, item in value.items():
                fields |= _explained(item, branch["properties"].get(name, {}), prefix + name)
        if isinstance(value, list) and "items" in branch:
            for i, item in enumerate(value):
                fields |= _explained(item, branch["items"], f"{path}[{i}]")
    return fields


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _generated(path: str, verb: str) -> st.SearchStrategy[Any]:
    return _strategy(DOC["paths"][path][verb]["requestBody"]["content"]["application/json"]["schema"])


# A generator from the schema (hypothesis-jsonschema 0.23 does not run on this hypothesis): it reads only
# what the document says (types, bounds, patterns, required, items), so what it makes is what a client
# reading the document may send.
def _strategy(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = _resolve(schema)
    if "anyOf" in schema:
        return st.one_of([_strategy(branch) for branch in schema["anyOf"]])
    if "enum" in schema or "const" in schema:
        return st.sampled_from(schema.get("enum", [schema.get("const")]))
    kind = schema.get("type")
    if kind == "object":
        props = {name: _strategy(sub) for name, sub in schema.get("properties", {}).items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: v for k, v in props.items() if k in required},
            optional={k: v for k, v in props.items() if k not in required},
        )
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(
            _strategy(schema["items"]), min_size=low, max_size=min(schema.get("maxItems", 3), low + 3)
        )
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(_bound(schema.get("minimum")), _bound(schema.get("maximum")))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return st.text(max_size=8) | st.integers() | st.booleans()  # no type: anything JSON


def _bound(value: Any) -> int | None:
    return None if value is None else int(value)


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """Short text, and long runs of 1-, 3- and 4-byte characters up to maxLength (bytes versus characters)."""
    low, high = schema.get("minLength", 0), schema.get("maxLength", 64)
    pattern = schema.get("pattern")
    plain = st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=low, max_size=min(high, 12)
    )
    runs = st.builds(
        lambda char, n: char * n,
        st.sampled_from(["x", "\u4e2d", "\U0001f600"]),
        st.integers(max(low, 1), high),
    )
    if pattern and "(?" not in pattern and pattern != r"^[^\x00]*$":
        texts = st.from_regex(pattern, fullmatch=pattern.endswith("$")) | runs.map(lambda t: "https://" + t)
    else:
        texts = plain | runs
    return texts.filter(
        lambda t: low <= len(t) <= high and (not pattern or re.search(pattern, t) is not None)
    )


def _assert_agrees(status: int, answer: Any, body: Any, path: str, verb: str) -> None:
    if status != 400 or answer["error"]["code"] != "invalid_request":
        assert status < 500, answer
        return
    schema = DOC["paths"][path][verb]["requestBody"]["content"]["application/json"]["schema"]
    explained = _explained(body, schema)
    assert answer["error"]["field"] in explained, (answer, body)


AGREEMENT = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture
def bucket(moto_table: Any, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: ARG001
    """An empty media bucket: a generated s3_key names nothing in it (the document says that is refused)."""
    monkeypatch.setenv("MEDIA_BUCKET", "agreement-media")
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="agreement-media")
    return "agreement-media"


@pytest.mark.usefixtures("bucket")
@AGREEMENT
@given(data=st.data())
def test_generated_rules_are_accepted_unless_the_document_says_why(admin: Any, data: st.DataObject) -> None:
    path = "/admin/welcome-rules/{rule_id}"
    body = data.draw(_generated(path, "put"))
    status, answer = _call(
        admin, "PUT", "/admin/welcome-rules/r1", json.dumps(body), params={"rule_id": "r1"}
    )
    _assert_agrees(status, answer, body, path, "put")


@pytest.fixture
def sim(wecom_sim: SimulatorHandle) -> Iterator[SimulatorHandle]:
    """The campaign customers, wm1 capped (a generated skip_capped body has a cap to ask)."""
    with runtime.overriding(cap_check=FakeCaps({"wm1"})):
        yield with_campaign_customers(wecom_sim)


@pytest.mark.usefixtures("bucket", "sim")
@AGREEMENT
@given(data=st.data())
def test_generated_campaigns_are_accepted_unless_the_document_says_why(
    admin: Any, data: st.DataObject
) -> None:
    body = data.draw(_generated("/admin/campaigns", "post"))
    status, answer = _call(admin, "POST", "/admin/campaigns", json.dumps(body))
    _assert_agrees(status, answer, body, "/admin/campaigns", "post")


@pytest.mark.usefixtures("bucket", "sim")
@AGREEMENT
@given(data=st.data(), verb=st.sampled_from(["post", "put"]))
def test_generated_group_templates_are_accepted_unless_the_document_says_why(
    admin: Any, data: st.DataObject, verb: str
) -> None:
    path = "/admin/group-welcome-templates" + ("/{template_id}" if verb == "put" else "")
    body = data.draw(_generated(path, verb))
    url = path.replace("{template_id}", "msgTPL")
    status, answer = _call(
        admin,
        verb.upper(),
        url,
        json.dumps(body),
        params={"template_id": "msgTPL"} if verb == "put" else None,
    )
    _assert_agrees(status, answer, body, path, verb)


@pytest.mark.usefixtures("bucket", "sim")
@AGREEMENT
@given(data=st.data())
def test_generated_channels_are_accepted_unless_the_document_says_why(
    admin: Any, data: st.DataObject
) -> None:
    path = "/admin/channels/{channel_id}"
    body = data.draw(_generated(path, "put"))
    status, answer = _call(
        admin, "PUT", "/admin/channels/expo", json.dumps(body), params={"channel_id": "expo"}
    )
    _assert_agrees(status, answer, body, path, "put")


FORBIDDEN = [
    ("PUT", "/admin/welcome-rules/r1", {"text": {"content": "\u4e2d" * 1334}}, "text.content"),  # 4002 bytes
    ("PUT", "/admin/welcome-rules/r1", {"text": {"content": "x"}, "colour": 1}, "colour"),
    ("PUT", "/admin/welcome-rules/r1", {"text": {"content": "x"}, "priority": "5"}, "priority"),
    ("PUT", "/admin/welcome-rules/bad id", {"text": {"content": "x"}}, "rule_id"),
    (
        "PUT",
        "/admin/welcome-rules/r1",
        {"attachments": [{"msgtype": "link", "link": {"title": "t" * 129, "url": "https://x"}}]},
        "attachments[0].link.title",
    ),
    (
        "POST",
        "/admin/campaigns",
        {"external_userid": ["wm0"], "text": {"content": "x"}, "sender": "\u4e2d" * 22},
        "sender",
    ),
    (
        "POST",
        "/admin/group-welcome-templates",
        {"text": {"content": "\u4e2d" * 1001}},
        "text.content",
    ),  # 3003 bytes
    ("PUT", "/admin/channels/expo", {"name": "n", "members": ["u"], "remark": "x" * 31}, "remark"),
    ("PUT", "/admin/channels/bad id", {"name": "n", "members": ["u"]}, "channel_id"),
]


@pytest.mark.usefixtures("moto_table")
@pytest.mark.parametrize(("method", "url", "body", "field"), FORBIDDEN, ids=[f for *_, f in FORBIDDEN])
def test_what_the_document_forbids_is_refused_naming_the_field(
    admin: Any, method: str, url: str, body: Any, field: str
) -> None:
    name = "rule_id" if "welcome-rules" in url else "channel_id" if "channels" in url else None
    params = {name: url.rsplit("/", 1)[-1]} if name else None
    status, answer = _call(admin, method, quote(url), json.dumps(body), params=params)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (400, "invalid_request", field)
    assert str(body) not in answer["error"]["message"]


# A campaign passes only when its audience, text and send time satisfy several x-rules at once, a template
# when it has text and at most one part: those are fixed (as the rules say), every other field is generated.
_CAMPAIGN = (
    {"chat_type": "single", "external_userid": ["wm0"], "text": {"content": "hi"}, "send_at": None},
    ("tag_filter", "chat_id_list", "allow_select"),
)
_TEMPLATE = ({"text": {"content": "hi"}}, ("image", "miniprogram", "file", "video"))
_CHANNEL = ({"members": ["zhangsan"]}, ("welcome",))


@pytest.mark.usefixtures("bucket", "sim")
@pytest.mark.parametrize(
    ("method", "path", "url", "rules"),
    [
        ("PUT", "/admin/welcome-rules/{rule_id}", "/admin/welcome-rules/r1", ({}, ())),
        ("POST", "/admin/campaigns", "/admin/campaigns", _CAMPAIGN),
        ("POST", "/admin/group-welcome-templates", "/admin/group-welcome-templates", _TEMPLATE),
        ("PUT", "/admin/channels/{channel_id}", "/admin/channels/expo", _CHANNEL),
    ],
)
def test_the_generator_reaches_requests_the_validators_pass(
    admin: Any, method: str, path: str, url: str, rules: tuple[dict[str, Any], tuple[str, ...]]
) -> None:
    """The agreement tests above are only as good as their generator: it does make requests every validator
    passes (WeCom may still refuse a made-up member or media id: that is not the document's business)."""
    params = {"rule_id": "r1"} if "{rule_id}" in path else None
    params = {"channel_id": "expo"} if "{channel_id}" in path else params

    def accepted(body: Any) -> bool:
        status, answer = _call(admin, method, url, json.dumps(body), params=params)
        return status < 400 or answer["error"]["code"] != "invalid_request"

    fixed, unset = rules
    bodies = _generated(path, method.lower()).map(
        lambda body: {k: v for k, v in {**body, **fixed}.items() if k not in unset}
    )
    no_shrinking = settings(max_examples=300, database=None, phases=[Phase.generate])
    found = find(bodies, accepted, settings=no_shrinking)
    assert isinstance(found, dict)
