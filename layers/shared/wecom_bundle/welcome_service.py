"""The instant welcome: one add-contact event → the right welcome, sent once, within the code's 20 s.

Order of work (two DynamoDB round trips on the warm path: the claim and the outcome):
1. claim the event with a conditional write keyed on corp, customer, member, change type and CreateTime, so
   WeCom's retries and concurrent invocations send nothing twice;
2. pick the rule from the in-memory rule cache;
3. fill ``%NICKNAME%`` from ``externalcontact/get`` if there is time, else remove it cleanly;
4. resolve bucket-backed attachments from the media cache (``media``): an upload happens only when the cached
   id is missing or too old *and* enough time is left (``MEDIA_UPLOAD_MIN_BUDGET_MS`` beyond a reserve for
   the send); otherwise that attachment is dropped (metric ``WelcomeMediaDropped{reason}``) — a welcome
   without the file beats a welcome that is late;
5. call ``send_welcome_msg`` with timeouts cut from the time left, retrying what may still succeed
   (41096, network faults, 5xx, -1, rate limits) until the deadline; a 40007 (media id expired anyway)
   re-uploads the bucket-backed media once, within the same budget;
6. record the outcome, which is also the welcome log entry.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wecom_bundle import config, media, storage, telemetry
from wecom_bundle.content import fit_nickname
from wecom_bundle.media import MediaRef
from wecom_bundle.wecom.client import WeComClient
from wecom_bundle.wecom.errors import (
    MEDIA_EXPIRED,
    WELCOME_ALREADY_SENT,
    WELCOME_BEING_SENT,
    TokenError,
    TransportError,
    WeComError,
)
from wecom_bundle.welcome_rules import RuleCache, choose_rule

logger = logging.getLogger(__name__)

CODE_LIFETIME_MS = 20_000
NICKNAME = "%NICKNAME%"
_NICKNAME_GAP = re.compile(r"[ \t\u3000]*%NICKNAME%")
LOG_RETENTION_DAYS_DEFAULT = 180
NICKNAME_BUDGET_S = 1.5  # at most this long for the name; the welcome itself matters more
MEDIA_SEND_RESERVE_S = 3.0  # an upload may only use the time left beyond this reserve for the send itself


@dataclass(frozen=True)
class WelcomeSettings:
    timezone: str
    safety_margin_ms: int
    lease_ms: int
    log_retention_days: int

    @classmethod
    def from_env(cls) -> WelcomeSettings:
        return cls(
            timezone=os.environ.get("WELCOME_TIMEZONE") or "Asia/Shanghai",
            safety_margin_ms=config.env_int("WELCOME_SAFETY_MARGIN_MS", 1500),
            lease_ms=config.env_int("WELCOME_LEASE_MS", 6000),
            log_retention_days=config.env_int("WELCOME_LOG_RETENTION_DAYS", LOG_RETENTION_DAYS_DEFAULT),
        )


@dataclass
class Result:
    outcome: str  # sent | already_sent | expired | failed | no_rule | duplicate
    rule_id: str | None = None
    errcode: int | None = None
    attempts: int = 0
    latency_ms: int | None = None
    first_error: str | None = None  # what the first send attempt got, when it failed (see _post_welcome)


def event_key(corp_id: str, event: dict[str, str]) -> str:
    """Dedupe key. ExternalUserID and ChangeType are in it: two customers adding the same member in the same
    second are two events, and must both be welcomed."""
    parts = (
        corp_id,
        event.get("ExternalUserID", ""),
        event.get("UserID", ""),
        event.get("ChangeType", ""),
        event.get("CreateTime", ""),
    )
    return "#".join(parts)


def render_text(content: str, nickname: str | None) -> str:
    """Fill the placeholder, or remove it with the blank before it: 'Hi %NICKNAME%, …' → 'Hi, …'."""
    if NICKNAME not in content:
        return content
    nickname = nickname and fit_nickname(content, nickname)  # within WeCom's 4 000 bytes, whatever the name
    if nickname:
        return content.replace(NICKNAME, nickname)
    return _NICKNAME_GAP.sub("", content).lstrip(" \t\u3000")


def _now_ms() -> int:
    return int(time.time() * 1000)


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


class WelcomeService:
    def __init__(
        self,
        client: WeComClient,
        rules: RuleCache,
        settings: WelcomeSettings,
        clock: Callable[[], int] = _now_ms,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.rules = rules
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.recent = RecentEvents()
        # event key -> what the first failed send attempt of a welcome in flight got
        self._first_errors: dict[str, str] = {}

    # -------------------------------------------------------------------------------------------- entry
    def handle(self, corp_id: str, event: dict[str, str]) -> Result:
        key = event_key(corp_id, event)
        if not self.recent.add_if_new(key):
            return Result("duplicate")  # a retry that reached the container handling it
        try:
            claim = self._claim(key, event)
        except Exception:
            self.recent.forget(key)  # nothing was claimed: WeCom's retry must be able to try again
            raise
        if claim is None:
            return Result("duplicate")
        owner, created_ms, deadline_ms = claim
        try:
            result = self._welcome(event, owner, key, created_ms, deadline_ms)
        finally:
            first_error = self._first_errors.pop(key, None)  # never left behind, even when _welcome raises
        result.first_error = first_error
        if result.outcome != "duplicate":  # a lost lease means the new owner records the outcome
            self._record(key, owner, event, result, created_ms)
        return result

    def _claim(self, key: str, event: dict[str, str]) -> tuple[str, int, int] | None:
        """Own the event in DynamoDB; None when another invocation owns (or finished) it."""
        owner = uuid.uuid4().hex
        created_ms = int(event.get("CreateTime") or 0) * 1000
        deadline_ms = created_ms + CODE_LIFETIME_MS - self.settings.safety_margin_ms
        now = self.clock()
        lease_until = min(now + self.settings.lease_ms, deadline_ms + 1000)
        claim = storage.claim_welcome(key, owner, now, lease_until, self._record_base(event))
        if claim.won:
            return owner, created_ms, deadline_ms
        if (claim.current or {}).get("outcome") == "pending":
            self.recent.forget(key)  # its owner may have crashed: a later retry must be able to take over
        return None

    def _welcome(
        self, event: dict[str, str], owner: str, key: str, created_ms: int, deadline_ms: int
    ) -> Result:
        if self.clock() >= deadline_ms:
            return Result("expired", latency_ms=self.clock() - created_ms)
        rule = choose_rule(self.rules.rules(), event, self.settings.timezone)
        if rule is None:
            return Result("no_rule")
        body = self._message(rule, event, deadline_ms)
        attachments = rule.get("attachments") or []
        used = self._attach(body, attachments, deadline_ms)
        if "text" not in body and "attachments" not in body:
            return Result("failed", rule_id=str(rule["rule_id"]), latency_ms=self.clock() - created_ms)

        def renew_media() -> None:
            for ref, media_id in used.items():
                media.invalidate(ref, media_id)
            used.clear()
            used.update(self._attach(body, attachments, deadline_ms))

        result = self._send(body, owner, key, deadline_ms, renew_media if used else None)
        result.rule_id = str(rule["rule_id"])
        result.latency_ms = self.clock() - created_ms
        return result

    # -------------------------------------------------------------------------------------------- content
    def _message(self, rule: dict[str, Any], event: dict[str, str], deadline_ms: int) -> dict[str, Any]:
        body: dict[str, Any] = {"welcome_code": event.get("WelcomeCode", "")}
        text = (rule.get("text") or {}).get("content")
        if text:
            nickname = self._nickname(event, deadline_ms) if NICKNAME in text else None
            rendered = render_text(text, nickname)
            if rendered.strip():
                body["text"] = {"content": rendered}
        return body

    def _attach(self, body: dict[str, Any], attachments: list[Any], deadline_ms: int) -> dict[MediaRef, str]:
        """Put the rule's attachments into ``body`` with bucket references resolved; answers the media ids
        used per reference (to invalidate on 40007). Uploads only within the deadline budget."""
        body.pop("attachments", None)
        if not media.refs_in(attachments):
            if attachments:
                body["attachments"] = attachments
            return {}
        resolution = media.resolve_attachments(
            attachments,
            self.client,
            time_left=lambda: (deadline_ms - self.clock()) / 1000 - MEDIA_SEND_RESERVE_S,
            drop_unavailable=True,
        )
        for dropped in resolution.dropped:
            logger.warning(
                "welcome attachment dropped", extra={"kind": dropped.ref.kind, "reason": dropped.reason}
            )
            telemetry.count("WelcomeMediaDropped", {"reason": dropped.reason})
        if resolution.attachments:
            body["attachments"] = resolution.attachments
        return resolution.used

    def _nickname(self, event: dict[str, str], deadline_ms: int) -> str | None:
        """The customer's name, only if it can be had well inside the deadline; None otherwise."""
        budget = min(NICKNAME_BUDGET_S, (deadline_ms - self.clock()) / 1000 / 4)
        if budget < 0.05:
            return None
        try:
            answer = self.client.get(
                "externalcontact/get",
                {"external_userid": event.get("ExternalUserID", "")},
                timeout=(min(0.5, budget), budget),
            )
        except (WeComError, TransportError) as exc:
            logger.info("nickname unavailable, sending without it", extra={"reason": type(exc).__name__})
            return None
        name = (answer.get("external_contact") or {}).get("name")
        return str(name) if name else None

    # -------------------------------------------------------------------------------------------- sending
    def _send(
        self,
        body: dict[str, Any],
        owner: str,
        key: str,
        deadline_ms: int,
        renew_media: Callable[[], None] | None = None,
    ) -> Result:
        attempts, errcode, backoff = 0, None, 0.1
        while True:
            left_s = (deadline_ms - self.clock()) / 1000
            if left_s <= 0.05:
                return Result("expired", errcode=errcode, attempts=attempts)
            if attempts and not storage.renew_welcome_lease(
                key, owner, self.clock() + self.settings.lease_ms
            ):
                return Result("duplicate", errcode=errcode, attempts=attempts)  # our lease was taken over
            attempts += 1
            try:
                self._post_welcome(key, body, timeout=(min(1.0, left_s), left_s))
                return Result("sent", attempts=attempts)
            except TokenError as exc:  # the client already refreshed once; a second one is not transient
                return Result("failed", errcode=exc.errcode, attempts=attempts)
            except WeComError as exc:
                if exc.errcode == WELCOME_ALREADY_SENT:
                    return Result("already_sent", errcode=exc.errcode, attempts=attempts)
                if exc.errcode == MEDIA_EXPIRED and renew_media is not None:
                    renew_media()  # once: the code was not consumed, a fresh upload may still make it
                    renew_media, errcode = None, exc.errcode
                    continue
                if exc.errcode != WELCOME_BEING_SENT and not exc.retryable:
                    return Result("failed", errcode=exc.errcode, attempts=attempts)
                errcode = exc.errcode
            except TransportError as exc:
                errcode = exc.status
            pause = min(backoff * (0.5 + random.random()), max(0.0, left_s - 0.1))  # noqa: S311 - jitter only
            self.sleep(pause)
            backoff = min(backoff * 2, 1.0)

    def _post_welcome(self, key: str, body: dict[str, Any], timeout: tuple[float, float]) -> None:
        """One send_welcome_msg call; remembers the first failure of the event. Why: when the connection
        drops after WeCom delivered, the retry's 41051 reads ``already_sent`` as if someone else had sent
        it; the log keeps the first error (and ``attempts``) so an operator sees our own attempt may have."""
        try:
            self.client.post("externalcontact/send_welcome_msg", body, timeout=timeout)
        except WeComError as exc:
            self._first_errors.setdefault(key, f"errcode {exc.errcode}")
            raise
        except TransportError as exc:  # reason: an exception type or an HTTP status, never the URL
            where = "" if exc.path.endswith("send_welcome_msg") else f"{exc.path}: "  # e.g. gettoken failing
            self._first_errors.setdefault(key, where + exc.reason)
            raise

    # -------------------------------------------------------------------------------------------- log
    def _record_base(self, event: dict[str, str]) -> dict[str, Any]:
        retention_s = self.settings.log_retention_days * 86400
        return {
            "external_userid": event.get("ExternalUserID", ""),
            "userid": event.get("UserID", ""),
            "state": event.get("State", ""),
            "change_type": event.get("ChangeType", ""),
            "create_time": int(event.get("CreateTime") or 0),
            "expires_at": int(time.time()) + retention_s,
        }

    def _record(self, key: str, owner: str, event: dict[str, str], result: Result, created_ms: int) -> None:
        outcome = {
            "outcome": result.outcome,
            "rule_id": result.rule_id,
            "errcode": result.errcode,
            "attempts": result.attempts,
            "first_error": result.first_error,
            "latency_ms": result.latency_ms,
            "recorded_at_ms": self.clock(),
        }
        recorded = storage.record_welcome_outcome(
            key,
            owner,
            outcome,
            external_userid=event.get("ExternalUserID", ""),
            userid=event.get("UserID", ""),
            create_time=created_ms // 1000,
        )
        if not recorded:
            logger.warning("welcome outcome not recorded: another invocation owns the event now")
