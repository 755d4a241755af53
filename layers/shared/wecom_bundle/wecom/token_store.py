"""One WeCom access token per corp app, shared by every function and container through DynamoDB.

Why: ``gettoken`` is rate-limited and a token lives ~2 h, so calling it per request (or per cold container,
during a burst of a thousand callbacks) gets the corp throttled. The order of lookup is: this container's
memory → the shared DynamoDB record → a refresh by *one* lease holder, while everyone else keeps using the
current token (if still valid) or waits briefly for the new one.

When gettoken fails, the failure is shared too: the refresher writes a back-off deadline into the record
(0.5 s after the first failure, doubling to at most 2 s, with jitter) and nobody calls gettoken again before
it. Callers wait for the back-off if it ends within their own time, else fail fast with a retryable
TransportError. So during an outage gettoken is called about once per back-off period for the whole corp
app, however many welcomes arrive (a per-caller retry would call it once per retry of every welcome), and at
most one back-off period after gettoken recovers the next caller has a token.

A *setup* failure of gettoken (``SetupError``: a refused corp id or secret after the one re-read, an
untrusted IP) is a circuit, not a wait: the record keeps the errcode and errmsg with a longer back-off
(1 s doubling to 8 s), and until it ends every caller, in this container (from memory) or any other (from
the record), gets the same ``SetupError`` at once, without calling gettoken and without waiting: a welcome
is recorded ``failed`` with the errcode at once, and a burst of welcomes costs about five gettoken calls in
20 s for the whole corp app, each refusal reported once (``wecom.setup``).
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from wecom_bundle.dynamo.client import is_condition_failure
from wecom_bundle.wecom import token_repo
from wecom_bundle.wecom.client import GETTOKEN
from wecom_bundle.wecom.errors import SetupError, TransportError

REFRESH_AHEAD_MS = 10 * 60 * 1000  # refresh 10 min before expiry: no caller ever holds an expiring token
LEASE_MS = 10_000  # a refresher has this long to fetch and publish before another may try
WAIT_STEP_S = 0.1
BACKOFF_BASE_MS = 500  # after the first failed refresh
BACKOFF_CAP_MS = 2_000  # bounds gettoken calls in an outage (~1 per 1-2 s) and the wait after it recovers
SETUP_BACKOFF_BASE_MS = 1_000  # after a setup refusal of gettoken (doubling, no jitter: nobody waits on it)
SETUP_BACKOFF_CAP_MS = 8_000  # a fixed console setting is noticed within 8 s


@dataclass
class _Cached:
    token: str
    expires_at_ms: int


class TokenRepo(Protocol):
    """The shared token record's access patterns (``wecom_bundle.wecom.token_repo``)."""

    def get_token(self, scope: str) -> dict[str, Any] | None: ...

    def acquire_token_lease(
        self, scope: str, owner: str, now_ms: int, lease_until_ms: int, fresh_until_ms: int
    ) -> bool: ...

    def store_token(self, scope: str, owner: str, access_token: str, token_expires_at_ms: int) -> None: ...

    def claim_token_fallback(self, scope: str, now_ms: int, backoff_until_ms: int) -> bool: ...

    def fail_token_refresh(
        self, scope: str, owner: str | None, backoff_until_ms: int, setup: tuple[int, str] | None = None
    ) -> None: ...

    def expire_token(self, scope: str, access_token: str) -> None: ...


def _now_ms() -> int:
    return int(time.time() * 1000)


def backoff_ms(failures: int) -> int:
    """How long nobody refreshes after ``failures`` consecutive failed refreshes: exponential from
    BACKOFF_BASE_MS, capped at BACKOFF_CAP_MS, half of it random so containers do not move in step."""
    ceiling = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS << min(max(failures, 1) - 1, 8))
    return ceiling // 2 + random.randint(0, ceiling // 2)  # noqa: S311 - jitter, not security


def setup_backoff_ms(failures: int) -> int:
    """How long gettoken stays closed after ``failures`` consecutive refusals, the last one a setup error."""
    return min(SETUP_BACKOFF_CAP_MS, SETUP_BACKOFF_BASE_MS << min(max(failures, 1) - 1, 8))


class SetupSink(Protocol):
    """Where a setup refusal of gettoken is reported (``wecom_bundle.wecom.setup.SetupReporter``)."""

    def report(self, error: SetupError) -> None: ...


@dataclass
class _SetupOpen:
    errcode: int
    errmsg: str
    until_ms: int

    def error(self) -> SetupError:
        return SetupError(self.errcode, self.errmsg, GETTOKEN)


class TokenUnavailable(TransportError):
    """No valid token within the caller's time: gettoken is failing and backing off. Retryable."""

    def __init__(self, reason: str) -> None:
        super().__init__(GETTOKEN, reason)


def token_scope(corp_id: str, corp_secret: str) -> str:
    """Key of the shared token: the corp plus a digest of the app secret, so a rotated secret (or a second
    app in the same corp) never reuses another app's token. The digest is one-way: the secret is not stored."""
    digest = hashlib.sha256(corp_secret.encode()).hexdigest()[:16]
    return f"{corp_id}#{digest}"


class SharedTokenProvider:
    """Implements the client's ``TokenSource`` protocol (``get``/``invalidate``) on the shared record in
    ``repo``; ``wait_step_s`` is how long a caller waits between reads while another container refreshes."""

    def __init__(
        self,
        scope: str,
        fetch: Callable[[float], tuple[str, int]],
        clock: Callable[[], int] = _now_ms,
        *,
        repo: TokenRepo = token_repo,
        wait_step_s: float = WAIT_STEP_S,
        reporter: SetupSink | None = None,
    ):
        self.scope = scope
        self._fetch = fetch  # (timeout) -> (token, expires_in seconds): the real gettoken call
        self._clock = clock
        self._repo = repo
        self._wait_step_s = wait_step_s
        self._owner = uuid.uuid4().hex
        self._cached: _Cached | None = None
        self._setup: _SetupOpen | None = None  # gettoken's last setup refusal while its circuit is open
        self._reporter = reporter
        self._lock = threading.Lock()

    def get(self, timeout: float) -> str:
        """A valid token within ``timeout`` seconds (the caller's remaining budget)."""
        cached = self._cached
        if cached and cached.expires_at_ms - REFRESH_AHEAD_MS > self._clock():
            return cached.token
        setup = self._open_setup()
        if setup is not None:
            return self._valid_or_refused(setup, cached)
        give_up_at = time.monotonic() + max(timeout, 0.5)
        # One thread per container goes to DynamoDB; the others reuse its answer, but never wait on it for
        # longer than their own time (during an outage the holder may be waiting out a back-off).
        if not self._lock.acquire(timeout=max(0.0, give_up_at - time.monotonic())):
            raise TokenUnavailable("token refresh in progress")
        try:
            return self._get_shared(give_up_at)
        finally:
            self._lock.release()

    def invalidate(self, token: str) -> None:
        """WeCom rejected ``token`` (40001/40014/42001): expire it in the shared record, then drop it here.

        In that order, so that once this returns no thread of this container can hand ``token`` out again
        (the caller's one retry needs a new token). Dropped here first, another thread finding no token in
        memory read the shared record, still valid, and cached the rejected token again; a reader that
        read it before the expiry holds the lock until it has cached it, and the drop below comes after.
        """
        self._repo.expire_token(self.scope, token)
        with self._lock:
            if self._cached and self._cached.token == token:
                self._cached = None

    def _get_shared(self, give_up_at: float) -> str:
        cached = self._cached
        now = self._clock()
        if cached and cached.expires_at_ms - REFRESH_AHEAD_MS > now:
            return cached.token
        while True:
            record = self._repo.get_token(self.scope) or {}
            current = _Cached(str(record.get("access_token", "")), int(record.get("token_expires_at_ms", 0)))
            now = self._clock()
            if current.token and current.expires_at_ms - REFRESH_AHEAD_MS > now:
                self._cached = current
                return current.token
            failures = int(record.get("refresh_failures", 0))
            backoff_until = int(record.get("refresh_backoff_until_ms", 0))
            if record.get("setup_errcode") and backoff_until > now:
                errmsg = str(record.get("setup_errmsg", ""))
                self._setup = _SetupOpen(int(record["setup_errcode"]), errmsg, backoff_until)
                return self._valid_or_refused(self._setup, current)
            if backoff_until <= now and self._repo.acquire_token_lease(
                self.scope, self._owner, now, now + LEASE_MS, now + REFRESH_AHEAD_MS
            ):
                return self._refresh_or_current(failures, current)
            if current.token and current.expires_at_ms > now:
                self._cached = current  # someone is refreshing; the current token still works meanwhile
                return current.token
            if backoff_until > now:
                self._wait_out_backoff((backoff_until - now) / 1000, give_up_at)
                continue
            if time.monotonic() >= give_up_at:
                if not self._repo.claim_token_fallback(self.scope, now, now + backoff_ms(failures + 1)):
                    raise TokenUnavailable("token refresh in progress")  # someone else's last resort
                return self._refresh_without_lease(failures)
            time.sleep(self._wait_step_s)

    def _wait_out_backoff(self, wait_s: float, give_up_at: float) -> None:
        """A refresh failed moments ago: wait until its back-off ends if that is within our time, else fail
        fast (the caller retries within its own budget; nobody calls gettoken meanwhile)."""
        if time.monotonic() + wait_s >= give_up_at:
            raise TokenUnavailable("refresh backing off after failures")
        time.sleep(wait_s + random.uniform(0, self._wait_step_s))  # noqa: S311 - spread the waiters' next read

    def _open_setup(self) -> _SetupOpen | None:
        """gettoken's setup refusal of moments ago (here or, read from the record, elsewhere), while open."""
        setup = self._setup
        return setup if setup is not None and setup.until_ms > self._clock() else None

    def _valid_or_refused(self, setup: _SetupOpen, current: _Cached | None) -> str:
        """While gettoken's circuit is open: a token that still works (inside its refresh-ahead window), else
        the same refusal at once, no call, no wait."""
        if current and current.token and current.expires_at_ms > self._clock():
            self._cached = current
            return current.token
        raise setup.error()

    def _refused_setup(self, exc: SetupError, owner: str | None, failures: int) -> None:
        """Close gettoken for everyone for the setup back-off, remember why, report it once."""
        until = self._clock() + setup_backoff_ms(failures + 1)
        self._setup = _SetupOpen(exc.errcode, exc.errmsg, until)
        self._repo.fail_token_refresh(self.scope, owner, until, (exc.errcode, exc.errmsg))
        if self._reporter is not None:
            self._reporter.report(exc)

    def _refresh_or_current(self, failures: int, current: _Cached) -> str:
        """Refresh; refused for our setup, the current token while it still works (e.g. a secret rotated in
        the console and not yet in ours: the old token serves its last minutes)."""
        try:
            return self._refresh(failures)
        except SetupError:
            if not current.token or current.expires_at_ms <= self._clock():
                raise
        self._cached = current
        return current.token

    def _refresh(self, failures: int) -> str:
        try:
            token, expires_in = self._fetch(LEASE_MS / 1000 - 1)
        except SetupError as exc:
            self._refused_setup(exc, self._owner, failures)
            raise
        except Exception:
            # Release the lease with a back-off: nobody (here or in another container) calls gettoken again
            # before it ends, so an outage costs one call per back-off period, not one per caller.
            self._repo.fail_token_refresh(self.scope, self._owner, self._clock() + backoff_ms(failures + 1))
            raise
        expires_at = self._clock() + expires_in * 1000
        self._cached, self._setup = _Cached(token, expires_at), None
        try:
            self._repo.store_token(self.scope, self._owner, token, expires_at)
        except Exception as exc:
            # Our lease ran out while gettoken was slow and someone else refreshed: our token is still valid
            # (WeCom serves several at once), so keep using it here and let theirs be the shared one.
            if not is_condition_failure(exc):
                raise
        return token

    def _refresh_without_lease(self, failures: int) -> str:
        """Last resort when the lease holder is stuck and no valid token exists: fetch for ourselves only.
        One caller per back-off period gets here (``claim_token_fallback``); a failure counts like any."""
        try:
            token, expires_in = self._fetch(3.0)
        except SetupError as exc:
            self._refused_setup(exc, None, failures)
            raise
        except Exception:
            self._repo.fail_token_refresh(self.scope, None, self._clock() + backoff_ms(failures + 1))
            raise
        self._cached = _Cached(token, self._clock() + expires_in * 1000)
        return token
