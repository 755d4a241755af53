"""``gettoken`` and the access_token check every other API goes through.

WeCom semantics kept: within its validity ``gettoken`` hands back the *same* token (so a client that calls it
per request is not "refreshing" anything, it is just burning its rate limit); tokens expire on the simulator
clock (42001), unknown tokens are 40014, a missing one 41001.
"""

from __future__ import annotations

import hmac
from typing import Any

from . import errors
from .errors import WeComError
from .http_types import GET, ApiRoute, Request
from .state import SimulatorState


def gettoken(state: SimulatorState, req: Request) -> dict[str, Any]:
    """Check corpid/corpsecret and answer the current token with the seconds it has left."""
    with state.lock:
        state.gettoken_calls += 1
        _check_credentials(state, req.query.get("corpid", ""), req.query.get("corpsecret", ""))
        now = state.now()
        token = state.current_token
        if token is None or state.tokens.get(token, 0) <= now:
            token = _issue(state, now)
        return errors.ok(access_token=token, expires_in=int(state.tokens[token] - now))


def _check_credentials(state: SimulatorState, corpid: str, secret: str) -> None:
    if not corpid:
        raise WeComError(errors.MISSING_CORPID)
    if not secret:
        raise WeComError(errors.MISSING_CORPSECRET)
    if corpid != state.config.corp_id:
        raise WeComError(errors.INVALID_CORPID)
    if not hmac.compare_digest(secret.encode(), state.config.corp_secret.encode()):
        raise WeComError(errors.INVALID_SECRET)


def _issue(state: SimulatorState, now: float) -> str:
    token = state.new_id("", 48)
    state.tokens[token] = now + state.config.token_ttl
    state.current_token = token
    state.tokens_issued += 1
    return token


def check_token(state: SimulatorState, req: Request) -> None:
    """Raise the errcode WeCom gives for a missing (41001), unknown (40014) or expired (42001) token."""
    token = req.query.get("access_token", "")
    if not token:
        raise WeComError(errors.MISSING_ACCESS_TOKEN)
    with state.lock:
        expires_at = state.tokens.get(token)
        if expires_at is None:
            raise WeComError(errors.INVALID_ACCESS_TOKEN)
        if expires_at <= state.now():
            raise WeComError(errors.ACCESS_TOKEN_EXPIRED)


def expire_tokens(state: SimulatorState) -> int:
    """Control: make every issued token expired now (next use: 42001). Returns how many were valid."""
    with state.lock:
        now = state.now()
        valid = [t for t, exp in state.tokens.items() if exp > now]
        for token in valid:
            state.tokens[token] = now
        return len(valid)


def revoke_tokens(state: SimulatorState) -> int:
    """Control: forget every token (next use: 40014), as after a secret reset in the admin console."""
    with state.lock:
        count = len(state.tokens)
        state.tokens.clear()
        state.current_token = None
        return count


ROUTES: dict[str, ApiRoute] = {
    "gettoken": ApiRoute(GET, gettoken, needs_token=False),
}
