"""Control API: make WeCom push callbacks (add_external_contact with a welcome code, the two losses
del_follow_user / del_external_contact, any raw event, URL check).

``add_external_contact`` also updates the contact model (the customer now belongs to the member) and mints
the welcome code the event carries, valid from the event's CreateTime on the simulator clock; ``state``
in its body is the event's ``State`` (a channel's id: the event came through that 「联系我」 code). The loss
pushes end the friendship in the model first (the customer no longer belongs to the member). Without a
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
    ControlHandler,
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

CONTACT_EVENT = {"MsgType": "event", "Event": "change_external_contact"}
ADD_CHANGE = "add_external_contact"
ADD_EVENT = CONTACT_EVENT | {"ChangeType": ADD_CHANGE}


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


def _contact_event(
    state: SimulatorState, change_type: str, create_time: int, body: dict[str, Any]
) -> dict[str, Any]:
    """The fields WeCom's change_external_contact event carries for ``body``'s member and customer."""
    return {
        "ToUserName": state.config.corp_id,
        "FromUserName": "sys",
        "CreateTime": create_time,
        **CONTACT_EVENT,
        "ChangeType": change_type,
        "UserID": body["userid"],
        "ExternalUserID": body["external_userid"],
    }


def _answer_push(
    ctx: ControlContext, body: dict[str, Any], url: str | None, result: dict[str, Any]
) -> Response:
    """Push the event of ``result`` (its ``fields``) to ``url``, or only answer it without a URL."""
    if url is None:
        return reply(result | {"pushed": False, "delivered": False, "attempts": []})
    fields = result["fields"]
    return reply(result | _deliver(ctx, body, str(fields["ChangeType"]), url, fields))


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


def _pair_request(
    ctx: ControlContext, req: Request, body: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str, str, str | None]:
    """A contact-change push request: its body, member, customer and the callback URL (400 if unusable)."""
    body = body_of(req) if body is None else body
    userid, external_userid = required_str(body, "userid"), required_str(body, "external_userid")
    return body, userid, external_userid, _callback_url(ctx, body)


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
        through = _through_contact_way(state, body_of(req))
    body, userid, external_userid, url = _pair_request(ctx, req, through)
    with state.lock:
        create_time = optional_int(body, "create_time") or int(state.now())
        _record_contact(state, body, userid, external_userid, create_time)
        code = None
        if body.get("with_welcome_code", True):
            code = issue_welcome_code(state, userid, external_userid, create_time)
    fields = _contact_event(state, ADD_CHANGE, create_time, body)
    if body.get("state"):
        fields["State"] = str(body["state"])
    if code:
        fields["WelcomeCode"] = code
    return _answer_push(ctx, body, url, {"welcome_code": code, "create_time": create_time, "fields": fields})


def _contact_lost(change_type: str) -> ControlHandler:
    """``{userid, external_userid, create_time?, source?}`` → the ``change_type`` callback, pushed like an
    add (encrypted, WeCom's retries); ``source`` is ``del_external_contact``'s ``Source`` (e.g.
    ``DELETE_BY_TRANSFER``, a handover)."""

    def push_loss(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
        body, userid, external_userid, url = _pair_request(ctx, req)
        state = ctx.state
        with state.lock:
            create_time = optional_int(body, "create_time") or int(state.now())
            customer = state.customers.get(external_userid)
            if customer is not None and customer.owner == userid:
                del state.customers[external_userid]  # no longer friends
        fields = _contact_event(state, change_type, create_time, body)
        if change_type == "del_external_contact" and body.get("source"):
            fields["Source"] = str(body["source"])
        return _answer_push(ctx, body, url, {"create_time": create_time, "fields": fields})

    return push_loss


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
    ("POST", "/__sim/callbacks/del_follow_user"): _contact_lost("del_follow_user"),
    ("POST", "/__sim/callbacks/del_external_contact"): _contact_lost("del_external_contact"),
    ("POST", "/__sim/callbacks/raw"): raw,
    ("POST", "/__sim/callbacks/verify_url"): verify_url,
    ("GET", "/__sim/callbacks"): pushes,
}
