"""The OpenAPI document, generated from the routes and their models (Powertools' ``get_openapi_json_schema``)
and adjusted to the contract: a validation failure is our 400 (never Powertools' 422), and each request
body's schema is shown in place (its nested models stay ``$ref``s to ``components``)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from admin_api.models.common import ErrorBody, error_responses
from wecom_bundle.cursors import MAX_CURSOR_CHARS

TITLE = "WeCom bundle admin API"
VERSION = "1"
DESCRIPTION = (
    "Every refusal is {error: {code, message, field?, errcode?}}; a validation failure is 400 invalid_request "
    "naming the field's path (attachments[0].link.url), never the value. WeCom counts its limits in UTF-8 "
    "bytes: such strings carry x-maxBytes (maxLength is the character bound that always holds). Rules across "
    "fields are listed in each schema's x-rules."
)
_POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")  # never answered
EMPTY_IS_ABSENT = "An empty value (?name=) is the same as leaving the parameter out."
# A cursor as cursors.seal makes it: two base64url parts (the page and its MAC), at most MAX_CURSOR_CHARS.
CURSOR_SCHEMA = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
    "maxLength": MAX_CURSOR_CHARS,
}
# An x-rule "a,b: not both empty" (or "a,b,c: ... not all empty") as JSON Schema: one of them given, non-empty.
MSGTYPE_NAMES_THE_PART = "exactly the part msgtype names, no other"
_NOT_EMPTY = {
    "text": {  # not null, with a non-empty content ("type" left out: see test_unknown_fields_are_refused_everywhere)
        "not": {"enum": [None]},
        "required": ["content"],
        "properties": {"content": {"type": "string", "minLength": 1}},
    },
    "attachments": {"type": "array", "minItems": 1},
    "skip_capped": {},
}


def generate(app: APIGatewayHttpResolver) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION)
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in _POWERTOOLS_ERRORS:
        schemas.pop(name, None)
    schemas.update(_error_schemas())
    for schema in schemas.values():  # before a body's schema is copied in place
        _cross_field_rules(schema)
    for item in doc["paths"].values():
        for operation in item.values():
            _adjust(operation, schemas)
            for parameter in operation.get("parameters", []):
                _query_parameter(parameter)
    return doc


def _query_parameter(parameter: dict[str, Any]) -> None:
    """Query values as the admin function reads them: empty means absent (``app.without_empty_query_values``),
    and a cursor has the form ``cursors.seal`` gives it (a well-formed one not given out here is still
    refused: only the MAC says so)."""
    if parameter.get("in") != "query":
        return
    parameter["allowEmptyValue"] = True
    parameter["description"] = f"{parameter.get('description', '')} {EMPTY_IS_ABSENT}".strip()
    if parameter.get("name") == "cursor":
        parameter["schema"] = dict(CURSOR_SCHEMA)


def _cross_field_rules(schema: dict[str, Any]) -> None:
    """The rules of a body's ``x-rules`` that JSON Schema can say, said in it too (``allOf`` of ``anyOf`` /
    ``not`` / ``if``-``then``), so that a generator never takes ``{}`` for a valid body; the rules that need
    values or state (byte counts with the nickname, bucket objects, msgids) stay in ``x-rules`` only."""
    conditions: list[dict[str, Any]] = []
    for rule in (str(rule.get("rule", "")) for rule in schema.get("x-rules", [])):
        names, _, text = rule.partition(": ")
        conditions += _conditions(names.split(","), text)
    if conditions:
        schema["allOf"] = [*schema.get("allOf", []), *conditions]


def _conditions(names: list[str], text: str) -> list[dict[str, Any]]:
    if text.endswith(("not both empty", "not all empty")) or text == "at least one":
        return [{"anyOf": [_given(name) for name in names]}]
    if text in ("not both", "exactly one") or text.startswith("at most one"):
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        exclusive = [{"not": {"allOf": [_given(a), _given(b)]}} for a, b in pairs]
        return exclusive + ([{"anyOf": [_given(name) for name in names]}] if text == "exactly one" else [])
    if text.startswith("no ") and text.endswith(" twice"):
        return [{"properties": {name: {"uniqueItems": True}}} for name in names]
    if text.startswith("both or neither"):
        given = [_given(name) for name in names]
        return [{"anyOf": [{"allOf": given}, {"not": {"anyOf": given}}]}]
    if text == MSGTYPE_NAMES_THE_PART:
        return _the_named_part(names)
    if text == "required when chat_type is group":
        return [{"if": _chat_type("group"), "then": {"required": names}}]
    if text.startswith("only when chat_type is "):
        other = "single" if text.endswith("group") else "group"
        return [{"if": _chat_type(other), "then": {"not": {"anyOf": [{"required": [n]} for n in names]}}}]
    if text.startswith("not with "):
        return [{"not": {"allOf": [_given(names[0]), _given(text.split()[2])]}}]
    return []


def _chat_type(value: str) -> dict[str, Any]:
    """``chat_type`` is ``value`` (absent means single)."""
    is_value = {"required": ["chat_type"], "properties": {"chat_type": {"const": value}}}
    return (
        is_value
        if value == "group"
        else {"not": {"required": ["chat_type"], "properties": {"chat_type": {"const": "group"}}}}
    )


def _given(name: str) -> dict[str, Any]:
    """``name`` is present and not empty (the validators read null, "", [] and {} as absent)."""
    shape = _NOT_EMPTY.get(name, {"not": {"enum": [None, "", [], {}]}})
    return {"required": [name], "properties": {name: shape}}


def _the_named_part(parts: list[str]) -> list[dict[str, Any]]:
    """An attachment holds exactly the part its ``msgtype`` names, and no other key (not even null): one
    ``if``/``then`` per msgtype."""
    return [
        {
            "if": {"required": ["msgtype"], "properties": {"msgtype": {"const": part}}},
            "then": {
                "allOf": [_given(part), {"not": {"anyOf": [{"required": [o]} for o in parts if o != part]}}]
            },
        }
        for part in parts
    ]


def _error_schemas() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"ErrorBody": {k: v for k, v in schema.items() if k != "$defs"}, **schema.get("$defs", {})}


def _adjust(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    if responses.pop("422", None) is not None and "400" not in responses:
        responses["400"] = _error_response(400)
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body and "$ref" in body.get("schema", {}):
        body["schema"] = dict(schemas[body["schema"]["$ref"].rsplit("/", 1)[-1]])


def _error_response(status: int) -> dict[str, Any]:
    answer = error_responses(status)[status]
    return {
        "description": answer["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
