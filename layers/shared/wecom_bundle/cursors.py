"""Admin pagination cursors: opaque, tamper-evident and bound to the listing that gave them out.

Why signed: a cursor carries a DynamoDB start key (or a month and a position). Unsigned, a forged one would
reach DynamoDB as an ``ExclusiveStartKey`` that does not belong to the queried partition and answer 500, and
a cursor of one listing replayed on another (another customer's welcomes, another campaign's results) would
do the same. Each cursor is ``base64url(payload) . base64url(HMAC-SHA256(key, scope . payload))``, where the
scope names the route and the filters that choose its partition, and the key is derived from the app
secret (``WECOM_CORP_SECRET``) with a fixed label, so nothing new has to be configured and the secret itself
never signs anything directly. Rotating the secret invalidates outstanding cursors: a client then starts
its listing again (a 400 naming ``cursor``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from wecom_bundle import config
from wecom_bundle.validation import ValidationError

_LABEL = b"wecom-bundle/admin-cursor/v1"
MAX_CURSOR_CHARS = 2048  # a start key of two short strings and a month: far below this
_REFUSED = "is not a cursor this API gave out for this listing"


def _key() -> bytes:
    return hmac.new(config.settings().corp_secret.encode(), _LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(scope: str, payload: bytes) -> bytes:
    return hmac.new(_key(), scope.encode("utf-8", "surrogatepass") + b"\0" + payload, hashlib.sha256).digest()


def seal(scope: str, doc: Any) -> str:
    """The cursor a client gets for ``doc`` (any JSON value) in the listing named by ``scope``."""
    payload = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(scope, payload))}"


def unseal(scope: str, cursor: str) -> Any:
    """The value sealed into ``cursor`` for ``scope``; ValidationError("cursor") for anything else."""
    if len(cursor) > MAX_CURSOR_CHARS or not cursor.isascii() or cursor.count(".") != 1:
        raise ValidationError("cursor", _REFUSED)
    body, tag = cursor.split(".")
    try:
        payload, mac = _unb64(body), _unb64(tag)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("cursor", _REFUSED) from exc
    if not hmac.compare_digest(mac, _mac(scope, payload)):
        raise ValidationError("cursor", _REFUSED)
    return json.loads(payload)
