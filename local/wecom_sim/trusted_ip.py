"""WeCom's 「企业可信IP」 rule: a self-built app created since 2022-06-20 may call the API only from the IPs on
its trusted list; any other caller gets 60020 naming its IP ("not allow to access from your ip, hint: [...],
from ip: A.B.C.D, more info at https://open.work.weixin.qq.com/devtool/query?e=60020", WeCom「全局错误码」
https://developer.work.weixin.qq.com/document/path/90313).

Why gettoken is exempt by default: public reports of the rule show gettoken answering a token from an IP that
the next call (with that token) is refused for, with 60020 naming the same IP; the refusal comes on the calls
that use the token. ``gettoken: true`` in the control call refuses gettoken too, so a test can also show the
product's answer to a gettoken that is refused (its shared setup circuit).
"""

from __future__ import annotations

from . import errors
from .control_common import ControlContext, ControlError, body_of, reply
from .errors import WeComError
from .http_types import Request, Response
from .state import SimulatorState

GETTOKEN = "gettoken"


def check(state: SimulatorState, req: Request, api: str) -> None:
    """Refuse ``req`` with 60020 when a trusted list is set and its caller is not on it."""
    with state.lock:
        trusted, gettoken_too = state.trusted_ips, state.trusted_ips_gettoken
    if trusted is None or req.client_ip in trusted or (api == GETTOKEN and not gettoken_too):
        return
    raise WeComError(errors.UNTRUSTED_IP, from_ip=req.client_ip)


def control(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """``POST {"ips": ["A.B.C.D", ...] | null, "gettoken": bool}`` sets the list (null: no rule, the
    default); GET reads it."""
    if req.method == "POST":
        body = body_of(req)
        ips = body.get("ips")
        if ips is not None and (not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips)):
            raise ControlError(400, "ips must be a list of IP strings or null")
        gettoken_too = body.get("gettoken", False)
        if not isinstance(gettoken_too, bool):
            raise ControlError(400, "gettoken must be true or false")
        with ctx.state.lock:
            ctx.state.trusted_ips = None if ips is None else frozenset(ips)
            ctx.state.trusted_ips_gettoken = gettoken_too
    with ctx.state.lock:
        trusted = ctx.state.trusted_ips
        answer = {
            "ips": None if trusted is None else sorted(trusted),
            "gettoken": ctx.state.trusted_ips_gettoken,
        }
    return reply(answer)


ROUTES = {("GET", "/__sim/trusted_ips"): control, ("POST", "/__sim/trusted_ips"): control}
