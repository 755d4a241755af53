"""One WeCom access token per corp app, shared by every function and container through DynamoDB.

Why: ``gettoken`` is rate-limited and a token lives ~2 h, so calling it per request (or per cold container,
during a burst of a thousand callbacks) gets the corp throttled. The order of lookup is: this container's
memory → the shared DynamoDB record → a refresh by *one* lease holder, while everyone else keeps using the
current token (if still valid) or waits briefly for the new one.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from wecom_bundle import storage

REFRESH_AHEAD_MS = 10 * 60 * 1000  # refresh 10 min before expiry: no caller ever holds an expiring token
LEASE_MS = 10_000  # a refresher has this long to fetch and publish before another may try
WAIT_STEP_S = 0.1


@dataclass
class _Cached:
    token: str
    expires_at_ms: int


def _now_ms() -> int:
    return int(time.time() * 1000)


def token_scope(corp_id: str, corp_secret: str) -> str:
    """Key of the shared token: the corp plus a digest of the app secret, so a rotated secret (or a second
    app in the same corp) never reuses another app's token. The digest is one-way: the secret is not stored."""
    digest = hashlib.sha256(corp_secret.encode()).hexdigest()[:16]
    return f"{corp_id}#{digest}"


class SharedTokenProvider:
    """Implements the client's ``TokenSource`` protocol (``get``/``invalidate``)."""

    def __init__(
        self, scope: str, fetch: Callable[[float], tuple[str, int]], clock: Callable[[], int] = _now_ms
    ):
        self.scope = scope
        self._fetch = fetch  # (timeout) -> (token, expires_in seconds): the real gettoken call
        self._clock = clock
        self._owner = uuid.uuid4().hex
        self._cached: _Cached | None = None
        self._lock = threading.Lock()

    def get(self, timeout: float) -> str:
        """A valid token within ``timeout`` seconds (the caller's remaining budget)."""
        cached = self._cached
        if cached and cached.expires_at_ms - REFRESH_AHEAD_MS > self._clock():
            return cached.token
        with self._lock:  # one thread per container goes to DynamoDB; the others reuse its answer
            return self._get_shared(time.monotonic() + max(timeout, 0.5))

    def invalidate(self, token: str) -> None:
        """WeCom rejected ``token`` (40001/40014/42001): drop it here and in the shared record."""
        with self._lock:
            if self._cached and self._cached.token == token:
                self._cached = None
        storage.expire_token(self.scope, token)

    def _get_shared(self, give_up_at: float) -> str:
        cached = self._cached
        now = self._clock()
        if cached and cached.expires_at_ms - REFRESH_AHEAD_MS > now:
            return cached.token
        while True:
            record = storage.get_token(self.scope) or {}
            current = _Cached(str(record.get("access_token", "")), int(record.get("token_expires_at_ms", 0)))
            now = self._clock()
            if current.token and current.expires_at_ms - REFRESH_AHEAD_MS > now:
                self._cached = current
                return current.token
            if storage.acquire_token_lease(
                self.scope, self._owner, now, now + LEASE_MS, now + REFRESH_AHEAD_MS
            ):
                return self._refresh()
            if current.token and current.expires_at_ms > now:
                self._cached = current  # someone is refreshing; the current token still works meanwhile
                return current.token
            if time.monotonic() >= give_up_at:
                return self._refresh_without_lease()
            time.sleep(WAIT_STEP_S)

    def _refresh(self) -> str:
        try:
            token, expires_in = self._fetch(LEASE_MS / 1000 - 1)
        except Exception:
            storage.release_token_lease(self.scope, self._owner)
            raise
        expires_at = self._clock() + expires_in * 1000
        self._cached = _Cached(token, expires_at)
        try:
            storage.store_token(self.scope, self._owner, token, expires_at)
        except Exception as exc:
            # Our lease ran out while gettoken was slow and someone else refreshed: our token is still valid
            # (WeCom serves several at once), so keep using it here and let theirs be the shared one.
            if not storage.is_condition_failure(exc):
                raise
        return token

    def _refresh_without_lease(self) -> str:
        """Last resort when the lease holder is stuck and no valid token exists: fetch for ourselves only."""
        token, expires_in = self._fetch(3.0)
        self._cached = _Cached(token, self._clock() + expires_in * 1000)
        return token
