"""``send_welcome_msg`` and the welcome codes the simulator hands out with add_external_contact events.

Semantics (WeCom「发送新客户欢迎语」, DESIGN "WeCom semantics that matter"):
- a code is valid ``welcome_code_ttl`` (20) seconds from the event's CreateTime, on the simulator clock;
- it is single use: the first valid call delivers, every later call gets 41051 (a success for the caller:
  the customer has the welcome) - even after the 20 s, because the chat now exists;
- an unknown or expired code is 41050 ("invalid welcome code": WeCom's global list says it is time-limited);
- the content is validated before the code is consumed, so a bad body can be fixed and retried in time.
41096 (another app is sending) is not simulated as a race: inject it as a fault.
"""

from __future__ import annotations

import copy
from typing import Any

from . import errors
from .errors import WeComError
from .http_types import POST, ApiRoute, Request
from .models import DeliveredWelcome, WelcomeCode
from .state import SimulatorState
from .validation import check_message

NICKNAME = "%NICKNAME%"  # case-sensitive placeholder, replaced by the customer's name


def issue_welcome_code(state: SimulatorState, userid: str, external_userid: str, create_time: int) -> str:
    """Mint the code an add_external_contact event carries. Caller holds the lock."""
    code = state.new_id("CALLBACK_", 24)
    state.welcome_codes[code] = WelcomeCode(code, userid, external_userid, create_time)
    return code


def send_welcome_msg(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    code = body.get("welcome_code")
    if not code or not isinstance(code, str):
        raise WeComError(errors.MISSING_WELCOME_CODE)
    with state.lock:
        welcome = _usable_code(state, code)
        check_message(state, body)
        now = state.now()
        welcome.delivered_at = now
        state.welcomes.append(
            DeliveredWelcome(
                welcome_code=code,
                external_userid=welcome.external_userid,
                userid=welcome.userid,
                body=copy.deepcopy(body),
                rendered_text=_rendered_text(state, body, welcome.external_userid),
                at=now,
            )
        )
        return errors.ok()


def _usable_code(state: SimulatorState, code: str) -> WelcomeCode:
    welcome = state.welcome_codes.get(code)
    if welcome is None:
        raise WeComError(errors.INVALID_WELCOME_CODE, "unknown welcome_code")
    if welcome.delivered_at is not None:
        raise WeComError(errors.WELCOME_ALREADY_SENT)
    if state.now() >= welcome.create_time + state.config.welcome_code_ttl:
        raise WeComError(errors.INVALID_WELCOME_CODE, "welcome_code expired (valid 20 s from the event)")
    return welcome


def _rendered_text(state: SimulatorState, body: dict[str, Any], external_userid: str) -> str | None:
    """What the customer reads: %NICKNAME% (exact case only) becomes their name."""
    text = body.get("text") or {}
    content = text.get("content") if isinstance(text, dict) else None
    if not content:
        return None
    customer = state.customers.get(external_userid)
    return content.replace(NICKNAME, customer.name if customer else "")


ROUTES: dict[str, ApiRoute] = {
    "externalcontact/send_welcome_msg": ApiRoute(POST, send_welcome_msg),
}
