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
    "properties": {
        "content": {
            "type": "string",
            "maxLength": 4000,
            "description": "at most 4 000 bytes in UTF-8; in welcome rules each %NICKNAME% counts as 128 bytes",
        }
    },
}

# Bucket references (``s3_key`` / ``pic_s3_key``): an object of the bundle's media bucket, uploaded to WeCom when
# needed and re-uploaded before the 3-day media expiry. Exactly one of an id and a reference per field.
S3_KEY = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1024,
    "description": "key of an object in the bundle's media bucket (MEDIA_BUCKET); no leading '/', no '..'",
}


def _media_holder(id_field: str, ref_field: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object that takes a WeCom id or a bucket reference, not both."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {id_field: _STR, ref_field: S3_KEY, **(extra or {})},
        "oneOf": [{"required": [id_field]}, {"required": [ref_field]}],
    }


ATTACHMENT: dict[str, Any] = {
    "type": "object",
    "required": ["msgtype"],
    "properties": {
        "msgtype": {"type": "string", "enum": ["image", "link", "miniprogram", "video", "file"]},
        "image": {
            "type": "object",
            "additionalProperties": False,
            "description": "media_id or s3_key (temporary media), and/or pic_url or pic_s3_key (permanent URL)",
            "properties": {"media_id": _STR, "s3_key": S3_KEY, "pic_url": _STR, "pic_s3_key": S3_KEY},
            "minProperties": 1,
        },
        "link": {
            "type": "object",
            "required": ["title", "url"],
            "properties": {"title": _STR, "url": _STR, "picurl": _STR, "desc": _STR},
        },
        "miniprogram": {
            **_media_holder("pic_media_id", "pic_s3_key", {"title": _STR, "appid": _STR, "page": _STR}),
            "required": ["title", "appid", "page"],
        },
        "video": _media_holder("media_id", "s3_key"),
        "file": _media_holder("media_id", "s3_key"),
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

WELCOME_RULE_BODY: dict[str, Any] = {
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

WARNINGS = {
    "type": "array",
    "description": "things to know about the saved rule, e.g. near_text_limit: its text is within 400 bytes "
    "of WeCom's 4 000 once each %NICKNAME% holds the longest name (128 bytes)",
    "items": {"type": "object", "properties": {"field": _STR, "code": _STR, "message": _STR}},
}
WELCOME_RULE_SAVED = {**WELCOME_RULE, "properties": {**WELCOME_RULE["properties"], "warnings": WARNINGS}}

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
        "attempts": {"type": "integer", "description": "send_welcome_msg calls made for this welcome"},
        "first_error": {
            "type": "string",
            "nullable": True,
            "description": "what the first attempt got when it failed (errcode N, HTTP 5xx or a network fault "
            "such as ConnectionError); with already_sent it means our own lost answer may have delivered it",
        },
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


CURSOR = {
    "type": "string",
    "maxLength": 2048,
    "description": "the cursor of the previous page, as given: opaque, signed and valid only for the same "
    "listing (route and filters); anything else is a 400",
}
SINCE = {
    "type": "string",
    "description": "epoch seconds or ISO 8601 (naive = UTC), between 1970-01-01 and 9999-12-31",
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
                "200": {"description": "replaced", **_json(WELCOME_RULE_SAVED)},
                "201": {"description": "created", **_json(WELCOME_RULE_SAVED)},
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
                _query("since", SINCE),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                _query("cursor", CURSOR),
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


# ------------------------------------------------------------------------------------------------ campaigns
_ID_LIST = {"type": "string", "minLength": 1, "maxLength": 128}
_TOTALS = {
    "type": "object",
    "properties": {
        "members": {"type": "object", "properties": {"sent": _INT, "unsent": _INT}},
        "customers": {
            "type": "object",
            "properties": {"sent": _INT, "unsent": _INT, "not_friend": _INT, "limit_reached": _INT},
        },
    },
}
REMINDER_POLICY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "first_after_minutes": {"type": "integer", "minimum": 0, "maximum": 43200, "default": 120},
        "every_minutes": {"type": "integer", "minimum": 1, "maximum": 43200, "default": 360},
        "stop_after_hours": {"type": "integer", "minimum": 1, "maximum": 720, "default": 72},
        "enabled": {"type": "boolean", "default": True},
    },
}
CAMPAIGN_BODY = {
    "type": "object",
    "additionalProperties": False,
    "description": "add_msg_template fields (official page), plus name, send_at and the reminder policy. "
    "single: external_userid (split into calls of 10 000) and/or sender, or tag_filter; group: sender "
    "required, chat_id_list optional. text and attachments may not both be empty.",
    "properties": {
        "chat_type": {"type": "string", "enum": ["single", "group"], "default": "single"},
        "external_userid": {"type": "array", "maxItems": 100000, "items": _ID_LIST},
        "chat_id_list": {"type": "array", "maxItems": 2000, "items": _ID_LIST},
        "tag_filter": {
            "type": "object",
            "additionalProperties": False,
            "required": ["group_list"],
            "properties": {
                "group_list": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["tag_list"],
                        "properties": {
                            "tag_list": {"type": "array", "minItems": 1, "maxItems": 100, "items": _ID_LIST}
                        },
                    },
                }
            },
        },
        "sender": {"type": "string", "maxLength": 64},
        "allow_select": {"type": "boolean"},
        "text": TEXT,
        "attachments": {"type": "array", "maxItems": 9, "items": ATTACHMENT},
        "name": {"type": "string", "maxLength": 200},
        "send_at": {
            "description": "epoch seconds or ISO 8601; in the future: the campaign is scheduled and "
            "created by ReminderFunction within one schedule tick (30 min by default) after it",
            "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string"}],
        },
        "reminders": REMINDER_POLICY,
    },
}
CAMPAIGN_CREATED = {
    "type": "object",
    "required": ["campaign_id", "status", "msgids", "fail_list"],
    "properties": {
        "campaign_id": _STR,
        "status": {"type": "string", "enum": ["scheduled", "creating", "active", "cancelled"]},
        "msgids": {"type": "array", "items": _STR},
        "fail_list": {"type": "array", "items": _STR},
        "send_at": _INT,
        "chunk_errors": {"type": "array", "items": {"type": "object"}},
    },
}
_CAMPAIGN_STATUS = {
    "type": "string",
    "enum": ["scheduled", "creating", "active", "completed", "cancelled", "failed"],
}
CAMPAIGN_SUMMARY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "campaign_id": _STR,
        "name": {"type": "string", "nullable": True},
        "status": _CAMPAIGN_STATUS,
        "origin": _STR,
        "chat_type": _STR,
        "created_at": _INT,
        "send_at": {"type": "integer", "nullable": True},
        "sent_at": {"type": "integer", "nullable": True},
        "cancelled_at": {"type": "integer", "nullable": True},
        "audience_size": _INT,
        "msgid_count": _INT,
        "fail_list_size": _INT,
        "totals": _TOTALS,
        "totals_synced_at": {"type": "integer", "nullable": True},
    },
}
CAMPAIGN = {
    "type": "object",
    "properties": {
        **CAMPAIGN_SUMMARY["properties"],
        "msgids": {"type": "array", "items": _STR},
        "chunks": {"type": "array", "items": {"type": "object"}},
        "reminder_policy": REMINDER_POLICY,
        "next_remind_at": {"type": "integer", "nullable": True},
        "reminders": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "msgid": _STR,
                    "at": _INT,
                    "trigger": {"type": "string", "enum": ["manual", "scheduled"]},
                    "outcome": {"type": "string", "enum": ["sent", "uncertain"]},
                },
            },
        },
    },
}
CAMPAIGN_ID = {
    "name": "campaign_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
}
_REMINDER_LIMIT = {
    "description": "every msgid already had 3 reminders in the last 24 h",
    **_json(
        {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {"code": _STR, "message": _STR, "next_allowed_at": _INT},
                }
            },
        }
    ),
}

PATHS.update(
    {
        "/admin/campaigns": {
            "post": {
                "operationId": "createCampaign",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "same key and body: the same campaign, no new WeCom call (24 h); "
                        "sent empty or malformed: 400",
                        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
                    }
                ],
                "requestBody": {"required": True, **_json(CAMPAIGN_BODY)},
                "responses": {
                    "201": {"description": "created on WeCom, or scheduled", **_json(CAMPAIGN_CREATED)},
                    "200": {"description": "replay of an Idempotency-Key", **_json(CAMPAIGN_CREATED)},
                    "202": {
                        "description": "still creating (resumed by the scheduler)",
                        **_json(CAMPAIGN_CREATED),
                    },
                    **_errors(400, 409),
                },
            },
            "get": {
                "operationId": "listCampaigns",
                "parameters": [
                    _query("status", _CAMPAIGN_STATUS),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    _query("cursor", CURSOR),
                ],
                "responses": {
                    "200": {
                        "description": "campaigns, newest first",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "items": {"type": "array", "items": CAMPAIGN_SUMMARY},
                                    "cursor": {"type": "string", "nullable": True},
                                },
                            }
                        ),
                    },
                    **_errors(400),
                },
            },
        },
        "/admin/campaigns/{campaign_id}": {
            "parameters": [CAMPAIGN_ID],
            "get": {
                "operationId": "getCampaign",
                "responses": {"200": {"description": "the campaign", **_json(CAMPAIGN)}, **_errors(404)},
            },
        },
        "/admin/campaigns/{campaign_id}/cancel": {
            "parameters": [CAMPAIGN_ID],
            "post": {
                "operationId": "cancelCampaign",
                "responses": {
                    "200": {
                        "description": "cancelled; msgids WeCom did not confirm are in failed (cancel again)",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "campaign_id": _STR,
                                    "status": _STR,
                                    "msgids": {"type": "array", "items": _STR},
                                    "cancelled": {"type": "array", "items": _STR},
                                    "failed": {"type": "array", "items": {"type": "object"}},
                                },
                            }
                        ),
                    },
                    **_errors(404, 409),
                },
            },
        },
        "/admin/campaigns/{campaign_id}/remind": {
            "parameters": [CAMPAIGN_ID],
            "post": {
                "operationId": "remindCampaign",
                "requestBody": {
                    "required": False,
                    **_json(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"msgids": {"type": "array", "items": _STR}},
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "reminded (at most 3 per msgid per 24 h)",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "campaign_id": _STR,
                                    "reminded": {"type": "array", "items": _STR},
                                    "refused": {"type": "array", "items": {"type": "object"}},
                                    "failed": {"type": "array", "items": {"type": "object"}},
                                    "outcomes": {"type": "array", "items": {"type": "object"}},
                                },
                            }
                        ),
                    },
                    "429": _REMINDER_LIMIT,
                    **_errors(400, 404, 409),
                },
            },
        },
        "/admin/campaigns/{campaign_id}/results": {
            "parameters": [CAMPAIGN_ID],
            "get": {
                "operationId": "getCampaignResults",
                "description": "Per-customer (or per-chat) results as last synced from WeCom by the scheduled "
                "result sync, msgid by msgid; empty before the first sync. With format=csv the page is CSV "
                "and the next page's cursor is in the X-Next-Cursor header.",
                "parameters": [
                    _query(
                        "status",
                        {"type": "string", "enum": ["unsent", "sent", "not_friend", "limit_reached"]},
                    ),
                    _query("member", {"type": "string", "description": "only this member's (userid) rows"}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    _query("cursor", CURSOR),
                    _query("format", {"type": "string", "enum": ["json", "csv"]}),
                ],
                "responses": {
                    "200": {
                        "description": "one page of results (CSV with format=csv)",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "items": {"type": "array", "items": {"type": "object"}},
                                        "cursor": {"type": "string", "nullable": True},
                                    },
                                }
                            },
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(400, 404),
                },
            },
        },
    }
)


# ------------------------------------------------------------------------------------------ group templates
_PART_SCHEMAS = {
    name: ATTACHMENT["properties"][name] for name in ("image", "link", "miniprogram", "file", "video")
}
GROUP_TEMPLATE_CONTENT = {
    "text": {"type": "object", "additionalProperties": False, "properties": {"content": _STR}},
    **_PART_SCHEMAS,
}
GROUP_TEMPLATE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "description": "text (<= 3000 bytes UTF-8) and at most one of image, link, miniprogram, file, video (WeCom "
    "would silently keep only the highest priority one, so several are refused); not all empty. "
    "%NICKNAME% is case-sensitive: other spellings are accepted with a warning. image/file/video s3_key, "
    "image pic_s3_key and miniprogram pic_s3_key name an object of the media bucket (it must exist: else 400 "
    "naming the field); WeCom gets media ids, kept fresh by MediaRefreshFunction (it edits the template).",
    "properties": {
        **GROUP_TEMPLATE_CONTENT,
        "notify": {"type": "integer", "enum": [0, 1], "description": "creation only; default 1"},
        "agentid": {"type": "integer", "minimum": 1},
    },
}
GROUP_TEMPLATE = {
    "type": "object",
    "properties": {
        "template_id": _STR,
        **GROUP_TEMPLATE_CONTENT,
        "notify": _INT,
        "agentid": _INT,
        "origin": {"type": "string", "enum": ["admin_api", "adopted"]},
        "created_by_app": {"type": "boolean"},
        "created_at_ms": _INT,
        "updated_at_ms": _INT,
        "mirrored": {"type": "boolean", "description": "false: WeCom changed but the mirror write failed"},
        "in_sync": {"type": "boolean", "description": "GET only: WeCom's content matches the mirror's"},
        "wecom": {
            "type": "object",
            "description": "GET only: the content as WeCom holds it (media ids; an image as its URL); the "
            "top-level content is the mirror's source (bucket references as written)",
        },
        "wecom_media": {
            "type": "object",
            "description": "per bucket reference ('kind:s3_key'), the id WeCom holds for this template",
            "additionalProperties": {
                "type": "object",
                "properties": {"media_id": _STR, "uploaded_at": {**_INT, "description": "epoch seconds"}},
            },
        },
        "media_refreshed_at_ms": {**_INT, "description": "last time the media refresh edited the template"},
        "media_refresh_error": {
            "type": "object",
            "description": "why the media refresh could not edit the template (48002 not_owned, 40037 gone)",
            "properties": {"errcode": _INT, "reason": _STR, "at": _INT},
        },
        "warnings": {"type": "array", "items": _STR},
    },
}
GROUP_TEMPLATE_ID = {"name": "template_id", "in": "path", "required": True, "schema": {"type": "string"}}
_LIMIT_REACHED = {
    "description": "WeCom's cap of 100 templates per corp (errcode 41055); count = this app's mirrored templates",
    **_json(
        {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "code": _STR,
                        "message": _STR,
                        "errcode": _INT,
                        "count": _INT,
                        "limit": _INT,
                    },
                }
            },
        }
    ),
}
_NOT_OWNER = {"description": "only the creating app may edit or delete (WeCom errcode 48002)", **_json(ERROR)}
_DRIFT = {
    "type": "object",
    "properties": {
        "kind": {
            "type": "string",
            "enum": [
                "missing_in_wecom",
                "content_differs",
                "missing_in_mirror",
                "add_not_in_wecom",
                "add_unconfirmed",
            ],
        },
        "template_id": {"type": "string", "nullable": True},
        "intent_id": _STR,
        "mirror": {"type": "object"},
        "wecom": {"type": "object"},
        "repaired": {"type": "boolean"},
        "repair": _STR,
    },
}

PATHS.update(
    {
        "/admin/group-welcome-templates": {
            "post": {
                "operationId": "createGroupWelcomeTemplate",
                "requestBody": {"required": True, **_json(GROUP_TEMPLATE_BODY)},
                "responses": {
                    "201": {"description": "created on WeCom and mirrored", **_json(GROUP_TEMPLATE)},
                    "409": _LIMIT_REACHED,
                    **_errors(400, 503),
                },
            },
            "get": {
                "operationId": "listGroupWelcomeTemplates",
                "description": "The mirror (WeCom has no list call), oldest first.",
                "responses": {
                    "200": {
                        "description": "mirrored templates",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "items": {"type": "array", "items": GROUP_TEMPLATE},
                                    "count": _INT,
                                    "limit": _INT,
                                },
                            }
                        ),
                    }
                },
            },
        },
        "/admin/group-welcome-templates/reconcile": {
            "post": {
                "operationId": "reconcileGroupWelcomeTemplates",
                "description": "Compare the mirror with WeCom; with repair, make the mirror follow WeCom.",
                "requestBody": {
                    "required": False,
                    **_json(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"repair": {"type": "boolean"}},
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "the drift report",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "checked": {"type": "object"},
                                    "in_sync": {"type": "boolean"},
                                    "drift": {"type": "array", "items": _DRIFT},
                                    "unchecked": {"type": "array", "items": {"type": "object"}},
                                    "in_flight": _INT,
                                    "repair": {"type": "boolean"},
                                },
                            }
                        ),
                    },
                    **_errors(400),
                },
            },
        },
        "/admin/group-welcome-templates/{template_id}": {
            "parameters": [GROUP_TEMPLATE_ID],
            "get": {
                "operationId": "getGroupWelcomeTemplate",
                "responses": {
                    "200": {
                        "description": "WeCom's content with the mirror's metadata",
                        **_json(GROUP_TEMPLATE),
                    },
                    **_errors(400, 404, 503),
                },
            },
            "put": {
                "operationId": "editGroupWelcomeTemplate",
                "requestBody": {"required": True, **_json(GROUP_TEMPLATE_BODY)},
                "responses": {
                    "200": {"description": "edited on WeCom and mirrored", **_json(GROUP_TEMPLATE)},
                    "403": _NOT_OWNER,
                    **_errors(400, 404, 503),
                },
            },
            "delete": {
                "operationId": "deleteGroupWelcomeTemplate",
                "responses": {
                    "204": {"description": "deleted on WeCom (or already gone there) and in the mirror"},
                    "200": {
                        "description": "deleted on WeCom; the mirror write failed",
                        **_json(GROUP_TEMPLATE),
                    },
                    "403": _NOT_OWNER,
                    **_errors(400, 404, 503),
                },
            },
        },
    }
)


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
