"""WeCom errcodes as typed exceptions, so callers decide on *kinds* of failure, not magic numbers."""

from __future__ import annotations

# Token problems: refresh the access token and retry once.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# Rate limits: back off and retry later (45009 frequency limit, 45033 too many concurrent calls).
RATE_LIMIT_ERRCODES = frozenset({45009, 45033})
# WeCom's own "system busy": retryable.
BUSY_ERRCODES = frozenset({-1})

WELCOME_ALREADY_SENT = 41051  # the welcome was delivered (by us or another app): a success, stop
WELCOME_BEING_SENT = 41096  # another app is sending now; delivery not confirmed: retry until the deadline
TEMPLATE_LIMIT_REACHED = 41055  # at most 100 group welcome templates per corp
TEMPLATE_NOT_OWNED = 48002  # api forbidden: only the app that created a group welcome template may change it
TEMPLATE_UNKNOWN = 40037  # invalid template_id: the group welcome template does not exist (any more)
MEDIA_EXPIRED = 40007  # invalid media_id (temporary media live 3 days)


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


def error_for(errcode: int, errmsg: str, path: str) -> WeComError:
    """Map an errcode to the most specific exception class."""
    if errcode in TOKEN_ERRCODES:
        return TokenError(errcode, errmsg, path)
    if errcode in RATE_LIMIT_ERRCODES:
        return RateLimitError(errcode, errmsg, path)
    return WeComError(errcode, errmsg, path)
