"""The OpenAPI 3.0 document of the admin API, served at GET /admin/openapi.json.

Written by hand (no pydantic: it would cost the Lambda ~100 ms of imports) and kept next to the validators
it describes; tests/unit/test_openapi.py checks every declared route exists in template.yaml and fuzzes the
API from this document.
"""

from __future__ import annotations

from typing import Any

_STR = {"type": "string"}
_INT = {"type": "integer"}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": _STR, "message": _STR, "field": _STR, "errcode": _INT},
        }
    },
}

TEXT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"content": {"type": "string", "maxLength": 4000}},
}

ATTACHMENT = {
    "type": "object",
    "required": ["msgtype"],
    "properties": {
        "msgtype": {"type": "string", "enum": ["image", "link", "miniprogram", "video", "file"]},
        "image": {"type": "object", "properties": {"media_id": _STR, "pic_url": _STR}},
        "link": {
            "type": "object",
            "required": ["title", "url"],
            "properties": {"title": _STR, "url": _STR, "picurl": _STR, "desc": _STR},
        },
        "miniprogram": {
            "type": "object",
            "required": ["title", "pic_media_id", "appid", "page"],
            "properties": {"title": _STR, "pic_media_id": _STR, "appid": _STR, "page": _STR},
        },
        "video": {"type": "object", "required": ["media_id"], "properties": {"media_id": _STR}},
        "file": {"type": "object", "required": ["media_id"], "properties": {"media_id": _STR}},
    },
}

MATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "state": _STR,
        "state_prefix": _STR,
        "userid": _STR,
        "weekdays": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 7},
            "minItems": 1,
        },
        "time_from": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
        "time_to": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
    },
}

WELCOME_RULE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "priority": {"type": "integer", "minimum": -1000000, "maximum": 1000000},
        "description": _STR,
        "match": MATCH,
        "text": TEXT,
        "attachments": {"type": "array", "maxItems": 9, "items": ATTACHMENT},
    },
}

WELCOME_RULE = {
    **WELCOME_RULE_BODY,
    "additionalProperties": True,
    "properties": {**WELCOME_RULE_BODY["properties"], "rule_id": _STR, "updated_at_ms": _INT},
}

WELCOME_RECORD = {
    "type": "object",
    "properties": {
        "external_userid": _STR,
        "userid": _STR,
        "state": _STR,
        "rule_id": {"type": "string", "nullable": True},
        "outcome": {
            "type": "string",
            "enum": ["pending", "sent", "already_sent", "expired", "failed", "no_rule"],
        },
        "errcode": {"type": "integer", "nullable": True},
        "latency_ms": {"type": "integer", "nullable": True},
        "attempts": _INT,
        "create_time": _INT,
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"description": "error", **_json(ERROR)} for code in codes}


RULE_ID = {
    "name": "rule_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
}


def _query(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or _STR}


PATHS: dict[str, Any] = {
    "/admin/health": {
        "get": {
            "operationId": "health",
            "responses": {"200": {"description": "up", **_json({"type": "object"})}},
        }
    },
    "/admin/openapi.json": {
        "get": {
            "operationId": "openapi",
            "responses": {"200": {"description": "this document", **_json({"type": "object"})}},
        }
    },
    "/admin/welcome-rules": {
        "get": {
            "operationId": "listWelcomeRules",
            "responses": {
                "200": {
                    "description": "all rules, highest priority first",
                    **_json(
                        {"type": "object", "properties": {"items": {"type": "array", "items": WELCOME_RULE}}}
                    ),
                }
            },
        }
    },
    "/admin/welcome-rules/{rule_id}": {
        "parameters": [RULE_ID],
        "get": {
            "operationId": "getWelcomeRule",
            "responses": {"200": {"description": "the rule", **_json(WELCOME_RULE)}, **_errors(400, 404)},
        },
        "put": {
            "operationId": "putWelcomeRule",
            "requestBody": {"required": True, **_json(WELCOME_RULE_BODY)},
            "responses": {
                "200": {"description": "replaced", **_json(WELCOME_RULE)},
                "201": {"description": "created", **_json(WELCOME_RULE)},
                **_errors(400),
            },
        },
        "delete": {
            "operationId": "deleteWelcomeRule",
            "responses": {"204": {"description": "deleted"}, **_errors(400, 404)},
        },
    },
    "/admin/welcomes": {
        "get": {
            "operationId": "listWelcomes",
            "parameters": [
                _query("external_userid"),
                _query("userid"),
                _query("state"),
                _query("since"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                _query("cursor"),
            ],
            "responses": {
                "200": {
                    "description": "welcome outcomes, newest first",
                    **_json(
                        {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": WELCOME_RECORD},
                                "cursor": {"type": "string", "nullable": True},
                            },
                        }
                    ),
                },
                **_errors(400),
            },
        }
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "WeCom bundle admin API", "version": "1.0.0"},
        "paths": PATHS,
        "components": {
            "securitySchemes": {"sigv4": {"type": "apiKey", "name": "Authorization", "in": "header"}}
        },
        "security": [{"sigv4": []}],
    }
