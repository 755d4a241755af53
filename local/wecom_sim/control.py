"""The ``/__sim/`` control API: routing, plus reset, state, call log, faults, clock, tokens and media bytes.

Scenario endpoints live beside it (``control_callbacks``: pushed events; ``control_model``: contacts, tasks,
templates). Every route takes ``(context, request, path params)`` and answers JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import (
    calllog,
    control_callbacks,
    control_model,
    endpoints_auth,
    endpoints_contact_ways,
    faults,
    groupmsg,
    trusted_ip,
)
from .control_common import (
    ControlContext,
    ControlError,
    ControlHandler,
    body_of,
    optional_number,
    reply,
)
from .http_types import Request, Response, json_response

CONTROL_PREFIX = "/__sim/"


def health(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    return reply({"ok": True, "url": ctx.state.base_url})


def reset(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    ctx.state.reset()
    return reply({"ok": True})


def state_summary(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    return reply(ctx.state.summary())


def calls(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """``?path=<suffix>&limit=N``: the call log, oldest first (a bare JSON list)."""
    limit = req.query.get("limit", "")
    if limit and not limit.isdigit():
        raise ControlError(400, "limit must be a positive integer")
    return reply(calllog.calls(ctx.state, req.query.get("path", ""), int(limit) if limit else None))


def add_fault(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    body = body_of(req)
    specs = body.get("faults") if "faults" in body else [body]
    if not isinstance(specs, list):
        raise ControlError(400, "faults must be a list")
    try:
        parsed = [faults.parse_fault(spec if isinstance(spec, dict) else {}) for spec in specs]
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    for fault in parsed:
        faults.add(ctx.state, fault)
    return reply({"armed": [f.as_dict() for f in parsed]}, 201)


def list_faults(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    with ctx.state.lock:
        return reply([f.as_dict() for f in ctx.state.faults])


def clear_faults(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    return reply({"cleared": faults.clear(ctx.state)})


def get_clock(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    clock = ctx.state.clock
    return reply({"now": clock.now(), "offset": clock.offset})


def move_clock(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """``{"advance": seconds}``: jump the simulator clock forward."""
    ctx.state.clock.advance(optional_number(body_of(req), "advance", 0))
    return get_clock(ctx, req, _)


def customer_limit(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """``{"rule": "month"|"week"|"day"}``: the corp's per-customer mass-send cap from now on (a test caps a
    customer with one message under ``day``); answers the rule in force. GET reads it."""
    if req.method == "POST":
        rule = body_of(req).get("rule")
        if rule not in groupmsg.CAP_RULES:
            raise ControlError(400, "rule must be month, week or day")
        with ctx.state.lock:
            ctx.state.config.customer_limit = rule
    return reply({"rule": ctx.state.config.customer_limit})


def expire_tokens(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    return reply({"expired": endpoints_auth.expire_tokens(ctx.state)})


def revoke_tokens(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    return reply({"revoked": endpoints_auth.revoke_tokens(ctx.state)})


def media_bytes(ctx: ControlContext, req: Request, params: dict[str, str]) -> Response:
    """Serve an uploaded file, so image URLs the simulator hands out actually load."""
    with ctx.state.lock:
        media = ctx.state.media.get(params["id"]) or ctx.state.images.get(params["id"])
    if media is None:
        raise ControlError(404, "unknown media")
    return Response(
        status=200, body=media.data, content_type=media.content_type or "application/octet-stream"
    )


def qr_image(ctx: ControlContext, req: Request, params: dict[str, str]) -> Response:
    """The QR image a contact way's ``qr_code`` points at (a real PNG), while the way exists."""
    with ctx.state.lock:
        known = params["id"] in ctx.state.contact_ways
    if not known:
        raise ControlError(404, "unknown contact way")
    return Response(status=200, body=endpoints_contact_ways.qr_png(params["id"]), content_type="image/png")


ROUTES: dict[tuple[str, str], ControlHandler] = {
    ("GET", "/__sim/health"): health,
    ("POST", "/__sim/reset"): reset,
    ("GET", "/__sim/state"): state_summary,
    ("GET", "/__sim/calls"): calls,
    ("POST", "/__sim/faults"): add_fault,
    ("GET", "/__sim/faults"): list_faults,
    ("DELETE", "/__sim/faults"): clear_faults,
    ("GET", "/__sim/clock"): get_clock,
    ("POST", "/__sim/clock"): move_clock,
    ("POST", "/__sim/tokens/expire"): expire_tokens,
    ("GET", "/__sim/customer_limit"): customer_limit,
    ("POST", "/__sim/customer_limit"): customer_limit,
    ("POST", "/__sim/tokens/revoke"): revoke_tokens,
    **control_callbacks.ROUTES,
    **control_model.ROUTES,
    **trusted_ip.ROUTES,
}
PATTERNS: list[tuple[str, re.Pattern[str], ControlHandler]] = [
    (method, re.compile(pattern), handler)
    for (method, pattern), handler in {
        **control_model.PATTERNS,
        ("GET", r"/__sim/(?:media|img)/(?P<id>[^/]+)"): media_bytes,
        ("GET", r"/__sim/qr/(?P<id>[^/]+)\.png"): qr_image,
    }.items()
]


def _resolve(method: str, path: str) -> tuple[ControlHandler, dict[str, str]] | None:
    handler = ROUTES.get((method, path))
    if handler is not None:
        return handler, {}
    for route_method, pattern, candidate in PATTERNS:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return candidate, match.groupdict()
    return None


def _known_path(path: str, methods: Iterable[tuple[str, str]]) -> bool:
    return any(p == path for _, p in methods) or any(pattern.fullmatch(path) for _, pattern, _ in PATTERNS)


def handle_control(ctx: ControlContext, req: Request) -> Response:
    resolved = _resolve(req.method, req.path)
    if resolved is None:
        status = 405 if _known_path(req.path, ROUTES) else 404
        return json_response({"error": f"no control route {req.method} {req.path}"}, status)
    handler, params = resolved
    try:
        return handler(ctx, req, params)
    except ControlError as exc:
        return json_response({"error": exc.message}, exc.status)
