"""The OpenAPI document, generated from the routes and their models (Powertools' ``get_openapi_json_schema``)
and adjusted to the contract: a validation failure is our 400 (never Powertools' 422), and each request
body's schema is shown in place (its nested models stay ``$ref``s to ``components``)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from admin_api.models.common import ErrorBody, error_responses

TITLE = "WeCom bundle admin API"
VERSION = "1"
DESCRIPTION = (
    "Every refusal is {error: {code, message, field?, errcode?}}; a validation failure is 400 invalid_request "
    "naming the field's path (attachments[0].link.url), never the value. WeCom counts its limits in UTF-8 "
    "bytes: such strings carry x-maxBytes (maxLength is the character bound that always holds). Rules across "
    "fields are listed in each schema's x-rules."
)
_POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")  # never answered


def generate(app: APIGatewayHttpResolver) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION)
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in _POWERTOOLS_ERRORS:
        schemas.pop(name, None)
    schemas.update(_error_schemas())
    for item in doc["paths"].values():
        for operation in item.values():
            _adjust(operation, schemas)
    return doc


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
