"""Sample events for every function, and fresh signatures for the callback samples.

``events/`` holds one sample per function. The callback samples are really encrypted and signed with the
dev keys of ``local/settings.py``, but the callback refuses a signature more than 5 minutes old (replay
protection), so they are templates: ``make invoke`` re-signs one with ``resign_callback`` just before it is
sent, and ``make events`` writes freshly signed copies of every sample to the ignored ``.local-data/events/``
for ``sam local invoke -e`` (valid for 5 minutes). No tracked file is rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from local.settings import DEV_DEFAULTS
from wecom_bundle.callback.crypto import MsgCrypto, WeComCryptoError, XmlParseError
from wecom_bundle.callback.xml_parser import build_envelope, build_event_xml, parse_envelope, parse_event

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
FRESH_EVENTS_DIR = EVENTS_DIR.parent / ".local-data" / "events"
CALLBACK_PATH = "/callback"


def _crypto(env: dict[str, str]) -> MsgCrypto:
    return MsgCrypto(env["WECOM_CALLBACK_TOKEN"], env["WECOM_ENCODING_AES_KEY"], env["WECOM_CORP_ID"])


def http_event(
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HttpApi payload-2.0 event, as the local gateway and API Gateway build it."""
    raw_query = "&".join(f"{k}={quote(v, safe='')}" for k, v in (query or {}).items())
    route = path
    for name, value in (path_parameters or {}).items():
        route = route.replace(value, "{" + name + "}")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"host": "127.0.0.1:3000", "user-agent": "sample", **(headers or {})},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "stage": "$default",
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route}",
            "timeEpoch": int(time.time() * 1000),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "sample",
            },
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body is not None:
        event["body"] = body
    return event


def signed_callback_query(crypto: MsgCrypto, encrypted: str, timestamp: int | None = None) -> dict[str, str]:
    ts, nonce = str(timestamp or int(time.time())), secrets.token_hex(8)
    return {"msg_signature": crypto.sign(ts, nonce, encrypted), "timestamp": ts, "nonce": nonce}


def callback_get_event(env: dict[str, str], echo: str = "echo-from-wecom") -> dict[str, Any]:
    crypto = _crypto(env)
    echostr = crypto.encrypt(echo.encode())
    return http_event("GET", "/callback", {**signed_callback_query(crypto, echostr), "echostr": echostr})


def add_contact_fields(
    env: dict[str, str],
    *,
    userid: str = "zhangsan",
    external_userid: str = "wmSampleCustomer",
    state: str = "web",
    welcome_code: str = "SAMPLE_WELCOME_CODE",
    create_time: int | None = None,
) -> dict[str, str | int]:
    return {
        "ToUserName": env["WECOM_CORP_ID"],
        "FromUserName": "sys",
        "CreateTime": create_time or int(time.time()),
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": userid,
        "ExternalUserID": external_userid,
        "State": state,
        "WelcomeCode": welcome_code,
    }


def callback_post_event(
    env: dict[str, str], fields: dict[str, str | int], agent_id: str = "1000002"
) -> dict[str, Any]:
    crypto = _crypto(env)
    encrypted = crypto.encrypt(build_event_xml(fields).encode())
    body = build_envelope(env["WECOM_CORP_ID"], encrypted, agent_id)
    return http_event(
        "POST", "/callback", signed_callback_query(crypto, encrypted), body, {"content-type": "text/xml"}
    )


class ResignError(ValueError):
    """A callback event that cannot be re-signed: its body is not a WeCom envelope these keys decrypt."""


def is_callback_event(event: Any) -> bool:
    """An API Gateway event for the callback route (the only events that carry a signature)."""
    return isinstance(event, dict) and event.get("rawPath") == CALLBACK_PATH


def resign_callback(event: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """A copy of a callback event signed now with `env`'s Token and EncodingAESKey.

    Why decrypt and encrypt again rather than only sign: the event's CreateTime must be fresh as well (the
    welcome code's 20 s run from it), and a template made with other keys must fail here, clearly, not as a
    400 from the callback. A GET (URL verification) keeps its echostr and gets a new signature.
    """
    crypto = _crypto(env)
    method = event.get("requestContext", {}).get("http", {}).get("method", "POST")
    query = dict(event.get("queryStringParameters") or {})
    if method == "GET":
        echostr = query.get("echostr", "")
        _decrypt_or_refuse(crypto, echostr)
        fresh = http_event(
            "GET", CALLBACK_PATH, {**signed_callback_query(crypto, echostr), "echostr": echostr}
        )
    else:
        try:
            envelope = parse_envelope(str(event.get("body") or "").encode("utf-8"))
            fields: dict[str, str | int] = dict(parse_event(_decrypt_or_refuse(crypto, envelope.encrypt)))
        except XmlParseError as exc:
            raise ResignError(f"the body is not a WeCom callback envelope ({exc})") from None
        fields["CreateTime"] = int(time.time())
        fresh = callback_post_event(env, fields, envelope.agent_id)
    fresh["headers"] = {**(event.get("headers") or {}), **fresh["headers"]}
    return fresh


def _decrypt_or_refuse(crypto: MsgCrypto, encrypted: str) -> bytes:
    try:
        return crypto.decrypt(encrypted)
    except (WeComCryptoError, ValueError):
        raise ResignError(
            "the event was not encrypted with WECOM_ENCODING_AES_KEY and WECOM_CORP_ID as set here"
        ) from None


def scheduled_event(name: str) -> dict[str, Any]:
    """What EventBridge Scheduler hands a Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "000000000000",
        "time": "2026-11-21T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:scheduler:us-east-1:000000000000:schedule/default/{name}"],
        "detail": {},
    }


def samples(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    rule = {"priority": 10, "match": {"state_prefix": "web"}, "text": {"content": "你好 %NICKNAME%，欢迎！"}}
    return {
        "callback-get-verify.json": callback_get_event(env),
        "callback-post-add-contact.json": callback_post_event(env, add_contact_fields(env)),
        "admin-get-health.json": http_event("GET", "/admin/health"),
        "admin-put-welcome-rule.json": http_event(
            "PUT",
            "/admin/welcome-rules/web-default",
            body=json.dumps(rule),
            headers={"content-type": "application/json"},
            path_parameters={"rule_id": "web-default"},
        ),
        "admin-get-welcomes.json": http_event("GET", "/admin/welcomes", {"limit": "20"}),
        "reminder-scheduled.json": scheduled_event("ReminderFunction"),
        "result-sync-scheduled.json": scheduled_event("ResultSyncFunction"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=FRESH_EVENTS_DIR)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    keys = {name: os.environ.get(name) or value for name, value in DEV_DEFAULTS.items()}
    for name, event in samples(keys).items():
        (out / name).write_text(json.dumps(event, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
