"""WeCom callback requests: verify, decrypt, parse, check freshness, dispatch.

Every rejection is a ``CallbackRejected`` with an HTTP status and a short reason that is safe to log and to
answer (it never echoes the payload). Nothing is done for a request until all checks have passed, so a
rejected request never causes a partial action.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from wecom_bundle import config, telemetry
from wecom_bundle.callback import fields as callback_fields
from wecom_bundle.callback import keys as callback_keys
from wecom_bundle.callback.crypto import (
    DecodeBase64Error,
    DecryptError,
    IllegalBufferError,
    ReceiveIdError,
    SignatureError,
    WeComCryptoError,
    XmlParseError,
)
from wecom_bundle.callback.fields import Event, EventFieldError
from wecom_bundle.callback.xml_parser import parse_envelope, parse_event

MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_SKEW_S = 300
# WeCom's echostr plaintext is a short random token (digits in practice). Anything else, above all an XML
# document (a captured POST's Encrypt replayed as echostr), is never echoed: that would decrypt any event.
_ECHOSTR_PLAINTEXT = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]{1,128}")  # printable ASCII, no space, '<' or '>'


class CallbackRejected(Exception):
    """A request we refuse: ``status`` is the HTTP status (4xx), ``reason`` a short safe text."""

    def __init__(self, status: int, reason: str, code: int | None = None, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code  # WeCom's WXBizMsgCrypt error code, when the crypto layer refused it
        self.field = field  # the event field that broke its rule (its name; never its value)


@dataclass(frozen=True)
class CallbackRequest:
    """The parts of an HTTP request the callback needs (decoupled from the API Gateway event shape)."""

    query: Mapping[str, str]
    body: bytes


def parse_query(raw_query: str) -> dict[str, str]:
    """Percent-decode without turning '+' into a space: base64 in ``echostr`` may carry a literal '+'."""
    params: dict[str, str] = {}
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            params.setdefault(unquote(name), unquote(value))
    return params


def _required(query: Mapping[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not query.get(name)]
    if missing:
        raise CallbackRejected(400, f"missing query parameter(s): {', '.join(missing)}")
    return [query[name] for name in names]


def _crypto_rejection(exc: WeComCryptoError) -> CallbackRejected:
    if isinstance(exc, SignatureError):
        # Counted for the signature alarm: a Token that no longer matches the console's loses every callback.
        telemetry.count("CallbackRejected", {"reason": "signature"})
        return CallbackRejected(401, "signature mismatch", exc.code)
    if isinstance(exc, ReceiveIdError):
        return CallbackRejected(403, "message is for another corp", exc.code)
    if isinstance(exc, DecodeBase64Error | DecryptError | IllegalBufferError):
        return CallbackRejected(400, "ciphertext cannot be decrypted", exc.code)
    if isinstance(exc, XmlParseError):
        return CallbackRejected(400, "malformed XML", exc.code)
    return CallbackRejected(400, "rejected by callback crypto", exc.code)


def verify_url(query: Mapping[str, str], now: float | None = None) -> str:
    """GET /callback: answer the decrypted echostr (WeCom's URL verification, 1 s budget).

    The same signature and freshness checks as a POST, then the plaintext must look like an echostr: the
    signature only proves *some* ciphertext came from WeCom, and a POST's Encrypt is also signed ciphertext.
    """
    signature, timestamp, nonce, echostr = _required(query, "msg_signature", "timestamp", "nonce", "echostr")
    echostr = echostr.replace(" ", "+")
    try:
        plaintext = callback_keys.open_message(signature, timestamp, nonce, echostr)
        _check_fresh(timestamp, time.time() if now is None else now)
    except WeComCryptoError as exc:
        raise _crypto_rejection(exc) from None
    text = plaintext.decode("ascii", "replace")
    if not _ECHOSTR_PLAINTEXT.fullmatch(text):
        raise CallbackRejected(400, "echostr is not a verification string")
    return text


def _check_fresh(timestamp: str, now: float) -> None:
    """The query's ``timestamp`` (ASCII digits only: ``int()`` would also take ' 1', '+1', '1_0', '１')
    within ``CALLBACK_MAX_SKEW_SECONDS`` of now: a captured request cannot be replayed later."""
    max_skew = config.env_int("CALLBACK_MAX_SKEW_SECONDS", DEFAULT_MAX_SKEW_S)
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 20):
        raise CallbackRejected(400, "timestamp is not an integer")
    if abs(now - int(timestamp)) > max_skew:
        raise CallbackRejected(400, "timestamp outside the accepted window")


def open_event(request: CallbackRequest, now: float | None = None) -> Event:
    """POST /callback: every check, then the decrypted event, normalised (``callback.fields``).

    Raises CallbackRejected. A signed event whose fields break their rules is refused with 400 naming the
    field, like any other rejected request (DESIGN: a rejected request gets a 4xx), rather than acknowledged
    with 200: WeCom never sends such an event, so it is a leaked Token, a bug or a change on WeCom's side,
    and a 4xx keeps it visible (API Gateway's 4xx metric, WeCom's callback log) where a 200 would lose every
    such welcome silently. WeCom's two retries are refused the same way, each for one decryption (no
    DynamoDB, no WeCom call), so refusing cannot grow into a storm.
    """
    if len(request.body) > MAX_BODY_BYTES:
        raise CallbackRejected(413, f"body over {MAX_BODY_BYTES} bytes")
    signature, timestamp, nonce = _required(request.query, "msg_signature", "timestamp", "nonce")
    try:
        envelope = parse_envelope(request.body)
        plaintext = callback_keys.open_message(signature, timestamp, nonce, envelope.encrypt)
        _check_fresh(timestamp, time.time() if now is None else now)
        event = parse_event(plaintext)
    except WeComCryptoError as exc:
        raise _crypto_rejection(exc) from None
    if envelope.to_user_name and envelope.to_user_name != config.settings().corp_id:
        raise CallbackRejected(403, "message is for another corp")
    try:
        return callback_fields.normalise(event)
    except EventFieldError as exc:
        raise CallbackRejected(400, str(exc), field=exc.field) from None


# ------------------------------------------------------------------------------------------------ dispatch
EventHandler = Callable[[Event], dict[str, object]]
# Handlers by (MsgType, Event, ChangeType); "" in a position matches any value there.
Handlers = Mapping[tuple[str, str, str], EventHandler]


def dispatch(event: Event, handlers: Handlers) -> dict[str, object]:
    """Run the most specific of ``handlers`` for this event (``callback.events.HANDLERS``, handed in by the
    function on a POST); unknown events are acknowledged and ignored."""
    msg_type, name, change = (str(event.get(field, "")) for field in ("MsgType", "Event", "ChangeType"))
    for key in ((msg_type, name, change), (msg_type, name, ""), (msg_type, "", "")):
        handler = handlers.get(key)
        if handler is not None:
            return handler(event)
    return {"handled": False}
