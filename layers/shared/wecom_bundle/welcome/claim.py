"""Owning one add-contact event: its dedupe key, the claim in DynamoDB and the lease that keeps it ours.

Why apart from the service: "send nothing twice" is its own idea. WeCom retries an unanswered callback and
several containers may receive the same event; exactly one of them may send. The claim is a conditional
write keyed on the event (``welcome.repo.claim_welcome``), its lease is renewed only when an attempt would
outlive it, and a warm container remembers the events it owns or saw finished, so WeCom's retries that land
on it cost no DynamoDB round trip.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from wecom_bundle.welcome.repo import WelcomeRecord

CODE_LIFETIME_MS = 20_000
# A lease is made to outlive the attempt it covers by this much (DynamoDB latency, clocks of containers).
LEASE_SLACK_MS = 1000


class ClaimAnswer(Protocol):
    """What ``claim_welcome`` answers (``welcome.repo.Claim``)."""

    @property
    def won(self) -> bool: ...

    @property
    def current(self) -> WelcomeRecord | None: ...


class WelcomeEventRepo(Protocol):
    """The welcome repository's event functions the service needs (``wecom_bundle.welcome.repo``)."""

    def claim_welcome(
        self, event_key: str, owner: str, now_ms: int, lease_until_ms: int, record: dict[str, Any]
    ) -> ClaimAnswer: ...

    def renew_welcome_lease(self, event_key: str, owner: str, lease_until_ms: int) -> bool: ...

    def record_welcome_outcome(
        self,
        event_key: str,
        owner: str,
        outcome: WelcomeRecord,
        *,
        external_userid: str,
        userid: str,
        create_time: int,
    ) -> bool: ...


def event_key(corp_id: str, event: Mapping[str, str | int]) -> str:
    """Dedupe key: corp, customer, member, change type and CreateTime (ExternalUserID and ChangeType are in
    it: two customers adding the same member in the same second are two events, and must both be welcomed).

    Each part is length-prefixed (``<characters>:<text>``, joined by ``|``), so no part can spill into its
    neighbour whatever characters it holds (with ``#`` as a plain separator, ``wmA#b``+``c`` and
    ``wmA``+``b#c`` were one key, and the second customer was never welcomed); CreateTime is written as its
    integer, so one event has one key however it was spelt.
    """
    parts = (
        corp_id,
        str(event.get("ExternalUserID", "")),
        str(event.get("UserID", "")),
        str(event.get("ChangeType", "")),
        str(int(event.get("CreateTime") or 0)),
    )
    return "|".join(f"{len(part)}:{part}" for part in parts)


@dataclass
class Claimed:
    """An event this invocation owns: its key, our owner id, the code's window and how long we hold it."""

    key: str
    owner: str
    started_ms: int  # the earlier of CreateTime and receipt: where the code's 20 s (and latency) count from
    deadline_ms: int  # no attempt starts after this
    lease_until_ms: int  # what DynamoDB holds for us; another invocation may take the event over after it
    first_error: str | None = None  # what the first failed send attempt got (for the welcome log)


class RecentEvents:
    """Event keys this container owns or knows to be finished, so WeCom's retries that land on the same warm
    container are answered without a DynamoDB round trip. Keys refused while another owner is still
    ``pending`` are *not* remembered: if that owner crashed, a later retry must reach DynamoDB to take over.
    Entries outlive the welcome code (20 s) and then age out."""

    def __init__(self, max_entries: int = 10_000, ttl_s: float = 120.0) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._max = max_entries
        self._ttl_s = ttl_s
        self._lock = threading.Lock()

    def add_if_new(self, key: str) -> bool:
        """Remember ``key``; False when it was already remembered (a duplicate)."""
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) >= self._max or next(iter(self._seen.values())) < now - self._ttl_s
            ):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)


class EventClaims:
    """Claims and leases of add-contact events, on the welcome repository, for one container."""

    def __init__(
        self, repo: WelcomeEventRepo, lease_ms: int, safety_margin_ms: int, clock: Callable[[], int]
    ) -> None:
        self.repo = repo
        self.lease_ms = lease_ms
        self.safety_margin_ms = safety_margin_ms
        self.clock = clock
        self.recent = RecentEvents()

    def take(
        self, key: str, event: Mapping[str, str | int], received_ms: int, record: dict[str, Any]
    ) -> Claimed | None:
        """Own the event (``record``: the log fields written with the claim); None for a duplicate: a retry
        this container already handles or handled, or an event another invocation owns or finished."""
        if not self.recent.add_if_new(key):
            return None  # a retry that reached the container handling it
        try:
            return self._claim(key, event, received_ms, record)
        except Exception:
            self.recent.forget(key)  # nothing was claimed: WeCom's retry must be able to try again
            raise

    def _claim(
        self, key: str, event: Mapping[str, str | int], received_ms: int, record: dict[str, Any]
    ) -> Claimed | None:
        owner = uuid.uuid4().hex
        started_ms = min(int(event.get("CreateTime") or 0) * 1000, received_ms)
        deadline_ms = started_ms + CODE_LIFETIME_MS - self.safety_margin_ms
        now = self.clock()
        lease_until = min(now + self.lease_ms, deadline_ms + LEASE_SLACK_MS)
        claim = self.repo.claim_welcome(key, owner, now, lease_until, record)
        if claim.won:
            return Claimed(key, owner, started_ms, deadline_ms, lease_until)
        if (claim.current or {}).get("outcome") == "pending":
            self.recent.forget(key)  # its owner may have crashed: a later retry must be able to take over
        return None

    def hold_lease(self, claimed: Claimed, attempt_s: float) -> bool:
        """Make our lease outlive an attempt of ``attempt_s`` starting now; False when the event was taken
        over. Renews only when the lease held would run out first (the claim's lease usually covers the
        first attempt, keeping the warm path at two DynamoDB round trips)."""
        needed = self.clock() + int(attempt_s * 1000) + LEASE_SLACK_MS
        if claimed.lease_until_ms >= needed:
            return True
        if not self.repo.renew_welcome_lease(claimed.key, claimed.owner, needed):
            return False
        claimed.lease_until_ms = needed
        return True
