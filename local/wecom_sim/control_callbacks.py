"""Control API: make WeCom push callbacks (add_external_contact with a welcome code, any raw event, URL check).

``add_external_contact`` also updates the contact model (the customer now belongs to the member) and mints
the welcome code the event carries, valid from the event's CreateTime on the simulator clock. Without a
callback URL (none configured, none in the body) the code is minted and nothing is pushed: enough for tests of
``send_welcome_msg`` alone.
"""

from __future__ import annotations

import secrets
from typing import Any

from . import callbacks
from .control_common import (
    ControlContext,
    ControlError,
    body_of,
    optional_int,
    optional_number,
    reply,
    required_str,
)
from .endpoints_welcome import issue_welcome_code
from .http_types import Request, Response
from .models import Customer
from .state import SimulatorState

ADD_EVENT = {"MsgType": "event", "Event": "change_external_contact", "ChangeType": "add_external_contact"}


def _push_options(ctx: ControlContext, body: dict[str, Any]) -> dict[str, Any]:
    config = ctx.state.config
    attempts = body.get("attempts", config.callback_attempts)
    if not isinstance(attempts, int) or not 1 <= attempts <= 10:
        raise ControlError(400, "attempts must be 1..10")
    agent_id = body.get("agent_id", "")
    return {
        "timeout": optional_number(body, "timeout", config.callback_timeout),
        "attempts": attempts,
        "agent_id": str(agent_id),
    }


def _callback_url(ctx: ControlContext, body: dict[str, Any]) -> str | None:
    url = body.get("callback_url") or ctx.state.config.callback_url
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise ControlError(400, "callback_url must be an http(s) URL")
    return url


def _deliver(
    ctx: ControlContext, body: dict[str, Any], kind: str, url: str, fields: dict[str, Any]
) -> dict[str, Any]:
    options = _push_options(ctx, body)
    if body.get("async"):
        callbacks.push_in_background(ctx.state, ctx.pusher, kind=kind, url=url, fields=fields, **options)
        return {"pushed": True, "async": True}
    record = callbacks.push(ctx.state, ctx.pusher, kind=kind, url=url, fields=fields, **options)
    return {"pushed": True, "delivered": record.delivered, "attempts": record.attempts}


def _record_contact(
    state: SimulatorState, body: dict[str, Any], userid: str, external_userid: str, at: int
) -> None:
    """The member now has this customer (an existing customer keeps its owner). Caller holds the lock."""
    state.ensure_member(userid)
    customer = state.customers.get(external_userid)
    if customer is None:
        name = body.get("name") or external_userid
        customer = state.customers[external_userid] = Customer(external_userid, str(name), owner=userid)
    customer.add_state = str(body.get("state") or "")
    customer.add_time = at


def _through_contact_way(state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """``config_id`` given: the customer scanned that contact way, so the event carries its state and goes to
    one of its members (``userid`` if given must be one of them; default: the first). Caller holds the lock."""
    config_id = body.get("config_id")
    if config_id is None:
        return body
    way = state.contact_ways.get(config_id) if isinstance(config_id, str) else None
    if way is None:
        raise ControlError(400, "config_id names no contact way")
    userid = body.get("userid") or way.users[0]
    if userid not in way.users:
        raise ControlError(400, "userid is not a member of that contact way")
    return {**body, "userid": userid, "state": way.state}


def add_external_contact(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """An add-contact event; with ``config_id``, through that contact way (the event carries its state)."""
    state = ctx.state
    with state.lock:
        body = _through_contact_way(state, body_of(req))
    userid, external_userid = required_str(body, "userid"), required_str(body, "external_userid")
    url = _callback_url(ctx, body)
    with state.lock:
        create_time = optional_int(body, "create_time") or int(state.now())
        _record_contact(state, body, userid, external_userid, create_time)
        code = None
        if body.get("with_welcome_code", True):
            code = issue_welcome_code(state, userid, external_userid, create_time)
    fields: dict[str, Any] = {
        "ToUserName": state.config.corp_id,
        "FromUserName": "sys",
        "CreateTime": create_time,
    }
    fields |= ADD_EVENT | {"UserID": userid, "ExternalUserID": external_userid}
    if body.get("state"):
        fields["State"] = str(body["state"])
    if code:
        fields["WelcomeCode"] = code
    result: dict[str, Any] = {"welcome_code": code, "create_time": create_time, "fields": fields}
    if url is None:
        return reply(result | {"pushed": False, "delivered": False, "attempts": []})
    return reply(result | _deliver(ctx, body, "add_external_contact", url, fields))


def raw(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """Push any event: ``{"fields": {...}}``; ToUserName and CreateTime default to the corp id and now."""
    body = body_of(req)
    given = body.get("fields")
    if not isinstance(given, dict) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in given.values()
    ):
        raise ControlError(400, "fields must be an object of string or integer values")
    url = _callback_url(ctx, body)
    if url is None:
        raise ControlError(400, "no callback_url configured or given")
    fields = {"ToUserName": ctx.state.config.corp_id, "CreateTime": int(ctx.state.now())} | given
    return reply({"fields": fields} | _deliver(ctx, body, "raw", url, fields))


def verify_url(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """WeCom's URL check: GET with an encrypted echostr; the receiver must answer its plaintext within 1 s."""
    body = body_of(req)
    url = _callback_url(ctx, body)
    if url is None:
        raise ControlError(400, "no callback_url configured or given")
    echostr = body.get("echostr") or str(secrets.randbelow(10**18))
    timeout = optional_number(body, "timeout", ctx.state.config.url_verify_timeout)
    result = ctx.pusher.verify_url(url, str(echostr), timeout)
    result["within_deadline"] = result["status"] is not None and result["elapsed_ms"] <= timeout * 1000
    return reply(result)


def pushes(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    with ctx.state.lock:
        return reply([p.as_dict() for p in ctx.state.pushes])


ROUTES = {
    ("POST", "/__sim/callbacks/add_external_contact"): add_external_contact,
    ("POST", "/__sim/callbacks/raw"): raw,
    ("POST", "/__sim/callbacks/verify_url"): verify_url,
    ("GET", "/__sim/callbacks"): pushes,
}
