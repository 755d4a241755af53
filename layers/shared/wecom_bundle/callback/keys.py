"""Which callback keys open a request: current, previous (rotation grace window), then freshly re-read.

Why its own module: rotating the callback Token/EncodingAESKey is done in two places that cannot change at the
same instant (the secret first, then the WeCom console, which verifies the URL with the new values). So:
- a request is tried with the current pair, then with the pair being rotated out (``previous_*`` in the
  secret), both from memory;
- if neither opens it, the secret is read again once (rate-limited, see ``config.reread_after_rejection``)
  and, if it changed, the request is tried with the new pairs. A rotated secret is thus used at once instead
  of after ``POWERTOOLS_PARAMETERS_MAX_AGE``, and WeCom's first request signed with new values succeeds.
A request that no pair opens raises the error of the *current* pair (what the rejection reports).
"""

from __future__ import annotations

import threading

from wecom_bundle import config
from wecom_bundle.callback.crypto import MsgCrypto, WeComCryptoError

_lock = threading.Lock()
_built_for: config.WeComSettings | None = None
_built: list[MsgCrypto] = []


def _cryptos() -> list[MsgCrypto]:
    """One MsgCrypto per accepted key pair, rebuilt only when the settings object changes."""
    global _built_for, _built
    settings = config.settings()
    with _lock:
        if settings is not _built_for:
            _built = [MsgCrypto(token, key, settings.corp_id) for token, key in settings.callback_keys()]
            _built_for = settings
        return _built


def _first_opening(signature: str, timestamp: str, nonce: str, encrypted: str) -> bytes:
    first_error: WeComCryptoError | None = None
    for crypto in _cryptos():
        try:
            return crypto.decrypt_message(signature, timestamp, nonce, encrypted)
        except WeComCryptoError as exc:
            first_error = first_error or exc
    assert first_error is not None  # there is always a current pair
    raise first_error


def open_message(signature: str, timestamp: str, nonce: str, encrypted: str) -> bytes:
    """Verify the signature and decrypt; raises the current pair's WeComCryptoError if nothing opens it."""
    try:
        return _first_opening(signature, timestamp, nonce, encrypted)
    except WeComCryptoError:
        if not config.reread_after_rejection():
            raise
    return _first_opening(signature, timestamp, nonce, encrypted)


def reset_client() -> None:
    """Forget the built keys (``local.lambda_runtime.reset_layer_state`` and the SnapStart hooks call this)."""
    global _built_for, _built
    with _lock:
        _built_for, _built = None, []
