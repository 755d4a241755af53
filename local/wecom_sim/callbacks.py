"""Pushing callbacks to the product the way WeCom does: encrypted, signed, retried.

WeCom behaviour reproduced: the event XML is encrypted with the corp's EncodingAESKey (receiveid = corp id),
wrapped in the ``<xml><ToUserName/><Encrypt/><AgentID/></xml>`` envelope and POSTed with
``?msg_signature&timestamp&nonce``; without an HTTP 200 within 5 s (``callback_timeout``) the *same* request is
sent again, 3 tries in all. URL verification is a GET with an encrypted ``echostr`` that must be echoed in
plaintext within 1 s.

The envelope ``timestamp`` is real time (it is transport metadata a receiver may check for replay); the
event's ``CreateTime`` is simulator time (it is what the 20 s welcome-code window counts from).
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from wecom_bundle.callback.crypto import MsgCrypto
from wecom_bundle.callback.xml_parser import build_envelope, build_event_xml

from .config import SimulatorConfig
from .models import PushRecord
from .state import SimulatorState

_NONCE_ALPHABET = string.ascii_letters + string.digits
_BODY_SNIPPET = 200


@dataclass(frozen=True)
class SignedRequest:
    params: dict[str, str]
    body: bytes


def _nonce() -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(16))


class CallbackPusher:
    """Encrypts and delivers callbacks for one simulated corp."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._crypto = MsgCrypto(config.callback_token, config.encoding_aes_key, config.corp_id)

    def sign_event(self, fields: Mapping[str, str | int], agent_id: str = "") -> SignedRequest:
        """The exact query and body WeCom would send for this event."""
        encrypted = self._crypto.encrypt(build_event_xml(fields).encode("utf-8"))
        timestamp, nonce = str(int(time.time())), _nonce()
        params = {
            "msg_signature": self._crypto.sign(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        body = build_envelope(self._config.corp_id, encrypted, agent_id).encode("utf-8")
        return SignedRequest(params, body)

    def post(self, url: str, signed: SignedRequest, timeout: float, attempts: int) -> list[dict[str, Any]]:
        """POST until an HTTP 200 arrives within ``timeout``, at most ``attempts`` times; report each try."""
        report: list[dict[str, Any]] = []
        for _ in range(attempts):
            outcome = _attempt(url, signed, timeout)
            report.append(outcome)
            if outcome["status"] == 200:
                break
        return report

    def verify_url(self, url: str, echostr: str, timeout: float) -> dict[str, Any]:
        """Send WeCom's URL-verification GET and report what came back."""
        encrypted = self._crypto.encrypt(echostr.encode("utf-8"))
        timestamp, nonce = str(int(time.time())), _nonce()
        params = {
            "msg_signature": self._crypto.sign(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": encrypted,
        }
        started = time.perf_counter()
        try:
            response = requests.get(url, params=params, timeout=(timeout, timeout))
            status, body, error = response.status_code, response.text, None
        except requests.RequestException as exc:
            status, body, error = None, "", type(exc).__name__
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        return {
            "status": status,
            "body": body[:_BODY_SNIPPET],
            "error": error,
            "elapsed_ms": elapsed_ms,
            "expected": echostr,
            "ok": status == 200 and body == echostr,
        }


def _attempt(url: str, signed: SignedRequest, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        response = requests.post(
            url,
            params=signed.params,
            data=signed.body,
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=(timeout, timeout),
        )
        status, body, error = response.status_code, response.text[:_BODY_SNIPPET], None
    except requests.RequestException as exc:
        status, body, error = None, "", type(exc).__name__
    return {
        "status": status,
        "elapsed_ms": int((time.perf_counter() - started) * 1000),
        "body": body,
        "error": error,
    }


def push(
    state: SimulatorState,
    pusher: CallbackPusher,
    *,
    kind: str,
    url: str,
    fields: Mapping[str, str | int],
    timeout: float,
    attempts: int,
    agent_id: str = "",
) -> PushRecord:
    """Deliver one event (blocking, no lock held during I/O) and remember how it went."""
    signed = pusher.sign_event(fields, agent_id)
    at = state.now()
    report = pusher.post(url, signed, timeout, attempts)
    record = PushRecord(
        kind=kind,
        url=url,
        fields=dict(fields),
        attempts=report,
        delivered=bool(report) and report[-1]["status"] == 200,
        at=at,
    )
    with state.lock:
        state.pushes.append(record)
    return record


def push_in_background(state: SimulatorState, pusher: CallbackPusher, **kwargs: Any) -> threading.Thread:
    """``"async": true``: the control call returns at once; the outcome appears in ``GET /__sim/callbacks``."""
    thread = threading.Thread(
        target=push, args=(state, pusher), kwargs=kwargs, name="wecom-sim-callback", daemon=True
    )
    thread.start()
    return thread
