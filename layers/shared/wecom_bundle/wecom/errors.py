"""WeCom errcodes as typed exceptions, so callers decide on *kinds* of failure, not magic numbers.

The codes themselves (and which are token, rate-limit or busy codes) are defined once in ``errcodes``.
"""

from __future__ import annotations

from wecom_bundle.wecom.errcodes import BUSY_ERRCODES, RATE_LIMIT_ERRCODES, SETUP_ERRCODES, TOKEN_ERRCODES


class WeComError(Exception):
    """WeCom answered with errcode != 0. ``errmsg`` is WeCom's text; it never contains our secrets."""

    def __init__(self, errcode: int, errmsg: str, path: str) -> None:
        super().__init__(f"WeCom {path} errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path

    @property
    def retryable(self) -> bool:
        return self.errcode in RATE_LIMIT_ERRCODES or self.errcode in BUSY_ERRCODES


class TokenError(WeComError):
    """The access token is invalid or expired (40001/40014/42001)."""


class SetupError(WeComError):
    """The deployment is set up wrong for WeCom (60020, 48002, 60011; on gettoken also a refused corp id or
    secret): never retried, never a token refresh; ``wecom.setup`` says the fix."""


class RateLimitError(WeComError):
    """45009/45033: back off before the next call."""


class TransportError(Exception):
    """No usable answer: connection failure, timeout, HTTP 5xx or a body that is not JSON. Retryable."""

    def __init__(self, path: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"WeCom {path}: {reason}")
        self.path = path
        self.reason = reason
        self.status = status

    retryable = True


def error_for(
    errcode: int, errmsg: str, path: str, setup_errcodes: frozenset[int] = SETUP_ERRCODES
) -> WeComError:
    """Map an errcode to the most specific exception class. ``setup_errcodes``: what counts as a setup error
    on this path (gettoken adds the refused secret; a call on another app's object drops 48002)."""
    if errcode in setup_errcodes:
        return SetupError(errcode, errmsg, path)
    if errcode in TOKEN_ERRCODES:
        return TokenError(errcode, errmsg, path)
    if errcode in RATE_LIMIT_ERRCODES:
        return RateLimitError(errcode, errmsg, path)
    return WeComError(errcode, errmsg, path)
