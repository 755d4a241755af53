"""The shared access token: one refresher at a time, across containers and threads."""

from __future__ import annotations

import threading
import time

import pytest

from wecom_bundle.wecom import token_repo, token_store
from wecom_bundle.wecom.token_store import SharedTokenProvider

pytestmark = pytest.mark.usefixtures("moto_table")


class CountingFetch:
    """Stands in for the gettoken HTTP call (HTTP itself is covered by the client and e2e tests)."""

    def __init__(self, delay: float = 0.0, expires_in: int = 7200) -> None:
        self.calls = 0
        self.delay = delay
        self.expires_in = expires_in
        self._lock = threading.Lock()

    def __call__(self, timeout: float) -> tuple[str, int]:  # noqa: ARG002
        with self._lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay)
        return f"TOKEN-{n}", self.expires_in


def test_many_cold_containers_fetch_once() -> None:
    # Racing containers on a real DynamoDB are in tests/integration (moto's conditional writes are not
    # atomic across threads); here: cold containers one after another share the first one's token.
    fetch = CountingFetch()
    tokens = [SharedTokenProvider("corp#app", fetch).get(timeout=5) for _ in range(12)]
    assert fetch.calls == 1
    assert set(tokens) == {"TOKEN-1"}


def test_threads_of_one_container_fetch_once() -> None:
    fetch = CountingFetch(delay=0.2)
    provider = SharedTokenProvider("corp#app", fetch)
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(provider.get(timeout=5))) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fetch.calls == 1
    assert tokens == ["TOKEN-1"] * 16


def test_a_refresher_whose_lease_ran_out_keeps_its_token() -> None:
    now = int(time.time() * 1000)

    def slow_fetch(timeout: float) -> tuple[str, int]:  # noqa: ARG001
        # while we wait on gettoken, our lease is taken over by another container
        token_repo.release_token_lease("corp#app", provider._owner)
        assert token_repo.acquire_token_lease("corp#app", "other", now, now + 10_000, now + 600_000)
        return "TOKEN-MINE", 7200

    provider = SharedTokenProvider("corp#app", slow_fetch)
    assert provider.get(timeout=5) == "TOKEN-MINE"
    assert provider.get(timeout=5) == "TOKEN-MINE"  # cached, still valid
    assert (token_repo.get_token("corp#app") or {}).get("lease_owner") == "other"


class SwitchableRepo:
    """The token repository as attributes a test may replace: the provider receives its repository, so a
    test hands it this one instead of patching the module."""

    def __init__(self) -> None:
        for name in (
            "get_token",
            "acquire_token_lease",
            "store_token",
            "claim_token_fallback",
            "fail_token_refresh",
            "expire_token",
        ):
            setattr(self, name, getattr(token_repo, name))


def test_warm_container_needs_no_dynamodb() -> None:
    repo = SwitchableRepo()
    provider = SharedTokenProvider("corp#app", CountingFetch(), repo=repo)
    assert provider.get(1) == "TOKEN-1"
    repo.get_token = lambda _scope: pytest.fail("DynamoDB read on a warm path")
    assert provider.get(1) == "TOKEN-1"


def test_invalidate_forces_one_refresh_for_everyone() -> None:
    fetch = CountingFetch()
    a, b = SharedTokenProvider("corp#app", fetch), SharedTokenProvider("corp#app", fetch)
    assert a.get(1) == b.get(1) == "TOKEN-1"
    a.invalidate("TOKEN-1")
    assert a.get(1) == "TOKEN-2"
    b.invalidate("TOKEN-1")  # b saw the same 40001; the shared record already moved on
    assert b.get(1) == "TOKEN-2"
    assert fetch.calls == 2


def test_a_rejected_token_is_not_cached_again_by_a_thread_reading_while_it_is_invalidated() -> None:
    # WeCom answered 42001 to a caller, which invalidates the token; meanwhile another thread of the
    # container asks for a token (forced here inside the shared record's expiry, the invalidation's slow
    # step). The caller's one retry must get a new token: when the memory copy was dropped before the
    # shared record was expired, the other thread re-read the record, cached the rejected token again and
    # the retry failed with 42001 too (how the reminder-cap storm lost reminders after its clock jump).
    repo = SwitchableRepo()
    fetch = CountingFetch()
    provider = SharedTokenProvider("corp#app", fetch, repo=repo)
    assert provider.get(1) == "TOKEN-1"
    expire = repo.expire_token
    seen_meanwhile: list[str] = []

    def expire_while_another_thread_asks(scope: str, token: str) -> None:
        seen_meanwhile.append(provider.get(1))
        expire(scope, token)

    repo.expire_token = expire_while_another_thread_asks
    provider.invalidate("TOKEN-1")

    assert seen_meanwhile == ["TOKEN-1"]  # that thread still had it: its own call will be refused and retried
    assert provider.get(1) == "TOKEN-2"  # the retry after 42001 gets a new token
    assert fetch.calls == 2


def test_refresh_ahead_of_expiry_keeps_serving_current_token_while_another_refreshes() -> None:
    clock = {"now": 1_000_000}
    fetch = CountingFetch(expires_in=7200)
    a = SharedTokenProvider("corp#app", fetch, clock=lambda: clock["now"])
    assert a.get(1) == "TOKEN-1"
    # 5 minutes before expiry: inside the refresh window but still valid
    clock["now"] += 7200_000 - 300_000
    assert token_repo.acquire_token_lease(
        "corp#app", "someone-else", clock["now"], clock["now"] + 10_000, clock["now"] + 600_000
    )
    b = SharedTokenProvider("corp#app", fetch, clock=lambda: clock["now"])
    assert b.get(1) == "TOKEN-1"  # the lease holder is refreshing; the current token still works
    assert fetch.calls == 1


def test_stuck_refresher_with_no_valid_token_falls_back_after_the_wait() -> None:
    now = int(time.time() * 1000)
    assert token_repo.acquire_token_lease("corp#app", "stuck", now, now + 60_000, now + 600_000)
    fetch = CountingFetch()
    provider = SharedTokenProvider("corp#app", fetch, wait_step_s=0.01)
    started = time.monotonic()
    assert provider.get(timeout=0.5) == "TOKEN-1"
    assert 0.4 < time.monotonic() - started < 3
    assert fetch.calls == 1


def test_failed_fetch_releases_the_lease() -> None:
    def broken(timeout: float) -> tuple[str, int]:  # noqa: ARG001
        raise RuntimeError("gettoken down")

    with pytest.raises(RuntimeError):
        SharedTokenProvider("corp#app", broken).get(1)
    assert "lease_owner" not in (token_repo.get_token("corp#app") or {})
    assert SharedTokenProvider("corp#app", CountingFetch()).get(1) == "TOKEN-1"


def test_scope_hides_the_secret() -> None:
    scope = token_store.token_scope("wwcorp", "very-secret")
    assert scope.startswith("wwcorp#")
    assert "very-secret" not in scope
    assert scope != token_store.token_scope("wwcorp", "rotated-secret")


# ------------------------------------------------------------------------------ gettoken outage
class FailingFetch(CountingFetch):
    """gettoken answering errors until ``healthy`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.healthy = threading.Event()

    def __call__(self, timeout: float) -> tuple[str, int]:  # noqa: ARG002
        with self._lock:
            self.calls += 1
            n = self.calls
        if not self.healthy.is_set():
            raise token_store.TransportError("gettoken", "HTTP 500", 500)
        return f"TOKEN-{n}", 7200


def test_an_outage_costs_gettoken_calls_by_time_not_by_traffic() -> None:
    # One container, many threads (racing containers need a real DynamoDB: tests/integration); other
    # containers read the same back-off from the record (see the fail-fast test below).
    fetch = FailingFetch()
    provider = SharedTokenProvider("corp#app", fetch)
    outcomes: list[str] = []  # list.append is atomic: safe from many threads
    stop_at = time.monotonic() + 2.0

    def caller(provider: SharedTokenProvider) -> None:
        while time.monotonic() < stop_at:  # a welcome retrying as fast as it may
            try:
                outcomes.append(provider.get(timeout=0.3))
            except token_store.TransportError as exc:
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=caller, args=(provider,)) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # back-offs of >= 0.25 s, 0.5 s, 1 s after the failures: at most ~5 calls in 2 s, however many callers
    assert fetch.calls <= 6, fetch.calls
    assert set(outcomes) <= {"TransportError", "TokenUnavailable"}
    assert len(outcomes) > 3 * fetch.calls
    record = token_repo.get_token("corp#app") or {}
    assert record["refresh_failures"] == fetch.calls and "lease_owner" not in record


def test_a_caller_whose_time_ends_before_the_backoff_fails_fast_without_calling_gettoken() -> None:
    now = int(time.time() * 1000)
    token_repo.fail_token_refresh("corp#app", None, now + 60_000)
    fetch = CountingFetch()
    with pytest.raises(token_store.TokenUnavailable):
        SharedTokenProvider("corp#app", fetch).get(timeout=1)
    assert fetch.calls == 0


def test_after_recovery_the_next_caller_gets_a_token_within_one_backoff() -> None:
    fetch = FailingFetch()
    provider = SharedTokenProvider("corp#app", fetch)
    for _ in range(6):  # the back-off has grown to its cap
        with pytest.raises(token_store.TransportError):
            provider.get(timeout=3)
    fetch.healthy.set()
    assert (
        SharedTokenProvider("corp#app", fetch).get(timeout=token_store.BACKOFF_CAP_MS / 1000 + 1) == "TOKEN-7"
    )
    assert "refresh_failures" not in (token_repo.get_token("corp#app") or {})


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    for failures, low, high in ((1, 250, 500), (2, 500, 1000), (3, 1000, 2000), (30, 1000, 2000)):
        delays = {token_store.backoff_ms(failures) for _ in range(50)}
        assert low <= min(delays) and max(delays) <= high and len(delays) > 1
