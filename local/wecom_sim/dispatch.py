"""Serving ``/cgi-bin/<api>``: faults, then the access_token, then the caller's IP (企业可信IP), then the HTTP
method, then the API itself.

Every answer is HTTP 200 with ``errcode``/``errmsg`` (as WeCom), except injected HTTP faults and unknown paths.
The order matters: an injected fault wins over everything (so 41096 can be injected without consuming a
welcome code); a bad token is reported before a wrong method, as WeCom authenticates first.
"""

from __future__ import annotations

import time

from . import (
    calllog,
    endpoints_auth,
    endpoints_contact,
    endpoints_contact_ways,
    endpoints_groupmsg,
    endpoints_media,
    endpoints_tags,
    endpoints_templates,
    endpoints_welcome,
    errors,
    faults,
    trusted_ip,
)
from .errors import WeComError, error_body
from .http_types import ApiRoute, Request, Response, json_response, text_response
from .state import SimulatorState

API_PREFIX = "/cgi-bin/"
ROUTES: dict[str, ApiRoute] = {
    **endpoints_auth.ROUTES,
    **endpoints_contact.ROUTES,
    **endpoints_contact_ways.ROUTES,
    **endpoints_welcome.ROUTES,
    **endpoints_groupmsg.ROUTES,
    **endpoints_templates.ROUTES,
    **endpoints_media.ROUTES,
    **endpoints_tags.ROUTES,
}


def handle_api(state: SimulatorState, req: Request) -> Response:
    """Answer one WeCom API call and log it."""
    at, started = state.now(), time.perf_counter()
    response = _answer(state, req, req.path[len(API_PREFIX) :])
    calllog.record(state, req, response, at, started)
    return response


def _answer(state: SimulatorState, req: Request, api: str) -> Response:
    fault = faults.take(state, api)
    if fault is not None:
        injected = faults.apply(fault)
        if injected is not None:
            return injected
    route = ROUTES.get(api)
    if route is None:
        return text_response(f"unknown WeCom API: {api}", status=404)
    try:
        if route.needs_token:
            endpoints_auth.check_token(state, req)
        trusted_ip.check(state, req, api)
        if req.method not in route.methods:
            expected = "/".join(sorted(route.methods))
            raise WeComError(errors.EMPTY_PARAMETER, f"{api} must be called with {expected}")
        return json_response(route.handler(state, req))
    except WeComError as exc:
        return json_response(error_body(exc.errcode, exc.detail, req.client_ip))
