"""The instant welcome: one add-contact event → the right welcome, sent once, within the code's 20 s.

Order of work (two DynamoDB round trips on the warm path: the claim and the outcome):
1. claim the event with a conditional write keyed on corp, customer, member, change type and CreateTime, so
   WeCom's retries and concurrent invocations send nothing twice (``welcome.claim``, on ``welcome.repo``);
2. pick the content: the channel's welcome when the event's ``State`` names a channel that has one (the
   callback looks the channel up in ``channels.lookup``; the welcome log's ``rule_id`` is then
   ``channel:{channel_id}``), else the winning rule from the in-memory rule cache;
3. fill ``%NICKNAME%`` from ``externalcontact/get`` if there is time, else remove it cleanly;
4. resolve bucket-backed attachments from the media cache (``media``): an upload happens only when the cached
   id is missing or too old *and* enough time is left (``MEDIA_UPLOAD_MIN_BUDGET_MS`` beyond a reserve for
   the send); otherwise that attachment is dropped (metric ``WelcomeMediaDropped{reason}``) — a welcome
   without the file beats a welcome that is late;
5. call ``send_welcome_msg`` with timeouts cut from the time left (and capped per attempt), retrying what may
   still succeed (41096, network faults, 5xx, -1, rate limits) until the deadline; a 40007 (media id expired
   anyway) re-uploads the bucket-backed media once, within the same budget. Before each attempt the claim's
   lease is made to outlive that attempt, so no other invocation can take the event over while WeCom may
   still be delivering it;
6. record the outcome, which is also the welcome log entry - always, whatever happened in between.

The deadline is the code's 20 s counted from the earlier of CreateTime and our receipt, less a safety margin:
a CreateTime in the future (a skewed clock, a forged event) cannot stretch the work past the function's
timeout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

from wecom_bundle import config, telemetry
from wecom_bundle.content import fit_nickname
from wecom_bundle.media.cache import MediaCache, MediaRef, refs_in
from wecom_bundle.wecom import welcome as wecom_welcome
from wecom_bundle.wecom.client import Timeout, WeComClient
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import TokenError, TransportError, WeComError
from wecom_bundle.welcome import repo as welcome_repo
from wecom_bundle.welcome.claim import Claimed, EventClaims, WelcomeEventRepo, event_key
from wecom_bundle.welcome.rules import RuleCache, choose_rule

if TYPE_CHECKING:
    from wecom_bundle.welcome.repo import WelcomeRecord

logger = logging.getLogger(__name__)

NICKNAME = "%NICKNAME%"
_NICKNAME_GAP = re.compile(r"[ \t\u3000]*%NICKNAME%")
LOG_RETENTION_DAYS_DEFAULT = 180
NICKNAME_BUDGET_S = 1.5  # at most this long for the name; the welcome itself matters more
MEDIA_SEND_RESERVE_S = 3.0  # an upload may only use the time left beyond this reserve for the send itself
# One send attempt waits at most this long to connect and for WeCom's answer (send_welcome_msg answers in well
# under a second; a hung connection is abandoned and the attempt retried while the code lives).
ATTEMPT_CONNECT_TIMEOUT_S = 1.0
ATTEMPT_READ_TIMEOUT_S = 4.0
LAST_ATTEMPT_S = 0.1  # the shortest attempt worth starting


class ChannelWelcome(Protocol):
    """A channel as the welcome needs it (``channels.lookup.Channel``): its welcome as a rule, or None."""

    def welcome_rule(self) -> dict[str, Any] | None: ...


class WelcomeApi(Protocol):
    """WeCom's welcome calls the service makes (``wecom_bundle.wecom.welcome``)."""

    def send_welcome_msg(self, client: WeComClient, body: dict[str, Any], *, timeout: Timeout) -> None: ...

    def external_contact_name(
        self, client: WeComClient, external_userid: str, *, timeout: Timeout
    ) -> str | None: ...


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
            lease_ms=config.env_int("WELCOME_LEASE_MS", 8000),
            log_retention_days=config.env_int("WELCOME_LOG_RETENTION_DAYS", LOG_RETENTION_DAYS_DEFAULT),
        )


class WelcomeOutcome(StrEnum):
    """What became of one add-contact event (the log's ``outcome``, the metric's dimension)."""

    SENT = "sent"
    ALREADY_SENT = "already_sent"  # WeCom answered 41051: a welcome for this code went out already
    EXPIRED = "expired"  # the welcome code's 20 s ran out before a send could succeed
    FAILED = "failed"
    NO_RULE = "no_rule"  # neither the channel nor any rule has a welcome for this event
    DUPLICATE = "duplicate"  # another delivery of the same event holds (or held) it


class OutcomeFields(TypedDict):
    """An event's outcome as the welcome log stores it (``welcome.repo.record_welcome_outcome``) and the
    "welcome handled" log line shows it."""

    outcome: WelcomeOutcome
    rule_id: str | None
    errcode: int | None
    attempts: int
    first_error: str | None
    latency_ms: int | None


@dataclass
class Result:
    outcome: WelcomeOutcome
    rule_id: str | None = None
    errcode: int | None = None
    attempts: int = 0
    latency_ms: int | None = None
    first_error: str | None = None  # what the first send attempt got, when it failed (see _post_welcome)

    def fields(self) -> OutcomeFields:
        """What the outcome record and the "welcome handled" log line both carry (never the content)."""
        return {
            "outcome": self.outcome,
            "rule_id": self.rule_id,
            "errcode": self.errcode,
            "attempts": self.attempts,
            "first_error": self.first_error,
            "latency_ms": self.latency_ms,
        }


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


class WelcomeService:
    """One container's welcome machinery. Its collaborators come in (``runtime.welcome_service()`` wires
    them): the WeCom client and its welcome API area, the rule cache, the welcome repository (claims, leases,
    outcomes), the container's media cache, the settings, a clock and a sleep, so a test hands in fakes
    instead of patching modules. Without ``media`` the service gets a media cache of its own (a container of
    one service)."""

    def __init__(
        self,
        client: WeComClient,
        rules: RuleCache,
        settings: WelcomeSettings,
        clock: Callable[[], int] = _now_ms,
        sleep: Callable[[float], None] = time.sleep,
        *,
        repo: WelcomeEventRepo = welcome_repo,
        api: WelcomeApi = wecom_welcome,
        media: MediaCache | None = None,
    ) -> None:
        self.client = client
        self.rules = rules
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.repo = repo
        self.api = api
        self.media = media or MediaCache()
        self.claims = EventClaims(repo, settings.lease_ms, settings.safety_margin_ms, clock)

    # -------------------------------------------------------------------------------------------- entry
    def handle(
        self, corp_id: str, event: Mapping[str, str | int], channel: ChannelWelcome | None = None
    ) -> Result:
        """Welcome the customer of ``event`` once; ``channel``: the channel its ``State`` names (its
        welcome, when it has one, goes ahead of every rule)."""
        received_ms = self.clock()
        key = event_key(corp_id, event)
        claimed = self.claims.take(key, event, received_ms, self._record_base(event))
        if claimed is None:
            return Result(WelcomeOutcome.DUPLICATE)
        result = self._welcome_or_failed(event, claimed, channel)
        result.first_error = claimed.first_error
        if result.outcome != "duplicate":  # a lost lease means the new owner records the outcome
            self._record(claimed, event, result)
        return result

    def _welcome_or_failed(
        self, event: Mapping[str, str | int], claimed: Claimed, channel: ChannelWelcome | None = None
    ) -> Result:
        """The welcome, or ``failed`` when something unexpected broke it: the claim is ours, so an outcome
        must be recorded (a raise would leave the event ``pending`` and out of the welcome log)."""
        try:
            return self._welcome(event, claimed, channel)
        except Exception as exc:
            # The type only: a message could quote a welcome code or an id.
            logger.error("welcome broke unexpectedly", extra={"error": type(exc).__name__})
            return Result(WelcomeOutcome.FAILED, latency_ms=self.clock() - claimed.started_ms)

    def _welcome(
        self, event: Mapping[str, str | int], claimed: Claimed, channel: ChannelWelcome | None = None
    ) -> Result:
        deadline_ms = claimed.deadline_ms
        if self.clock() >= deadline_ms:
            return Result(WelcomeOutcome.EXPIRED, latency_ms=self.clock() - claimed.started_ms)
        rule = channel.welcome_rule() if channel is not None else None
        if rule is None:
            rule = choose_rule(self.rules.rules(), event, self.settings.timezone)
        if rule is None:
            return Result(WelcomeOutcome.NO_RULE)
        body = self._message(rule, event, deadline_ms)
        attachments = rule.get("attachments") or []
        used = self._attach(body, attachments, deadline_ms)
        if "text" not in body and "attachments" not in body:
            return Result(
                WelcomeOutcome.FAILED,
                rule_id=str(rule["rule_id"]),
                latency_ms=self.clock() - claimed.started_ms,
            )

        def renew_media() -> None:
            for ref, media_id in used.items():
                self.media.invalidate(ref, media_id)
            used.clear()
            used.update(self._attach(body, attachments, deadline_ms))

        result = self._send(body, claimed, renew_media if used else None)
        result.rule_id = str(rule["rule_id"])
        result.latency_ms = self.clock() - claimed.started_ms
        return result

    # -------------------------------------------------------------------------------------------- content
    def _message(
        self, rule: dict[str, Any], event: Mapping[str, str | int], deadline_ms: int
    ) -> dict[str, Any]:
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
        if not refs_in(attachments):
            if attachments:
                body["attachments"] = attachments
            return {}
        resolution = self.media.resolve_attachments(
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

    def _nickname(self, event: Mapping[str, str | int], deadline_ms: int) -> str | None:
        """The customer's name, only if it can be had well inside the deadline; None otherwise."""
        budget = min(NICKNAME_BUDGET_S, (deadline_ms - self.clock()) / 1000 / 4)
        if budget < 0.05:
            return None
        try:
            return self.api.external_contact_name(
                self.client, str(event.get("ExternalUserID", "")), timeout=(min(0.5, budget), budget)
            )
        except (WeComError, TransportError) as exc:
            logger.info("nickname unavailable, sending without it", extra={"reason": type(exc).__name__})
            return None

    # -------------------------------------------------------------------------------------------- sending
    def _send(
        self, body: dict[str, Any], claimed: Claimed, renew_media: Callable[[], None] | None = None
    ) -> Result:
        attempts, errcode, backoff, token_refused = 0, None, 0.1, False
        while True:
            left_s = (claimed.deadline_ms - self.clock()) / 1000
            if left_s < LAST_ATTEMPT_S / 2:
                return Result(WelcomeOutcome.EXPIRED, errcode=errcode, attempts=attempts)
            timeout = (min(ATTEMPT_CONNECT_TIMEOUT_S, left_s), min(ATTEMPT_READ_TIMEOUT_S, left_s))
            try:
                with self._first_error_of(claimed):
                    self.client.tokens.get(left_s)  # a cold token first: the lease is sized for the HTTP call
                    if not self.claims.hold_lease(claimed, sum(timeout)):
                        return Result(
                            WelcomeOutcome.DUPLICATE, errcode=errcode, attempts=attempts
                        )  # taken over
                    attempts += 1
                    # The client does not resend on a refused token by itself: every request goes through
                    # the lease check above, the resend with a fresh token included.
                    self.api.send_welcome_msg(self.client, body, timeout=timeout)
                return Result(WelcomeOutcome.SENT, attempts=attempts)
            except WeComError as exc:
                step = _after_refusal(exc, token_refused=token_refused, can_renew=renew_media is not None)
                if step in ("failed", "already_sent"):
                    return Result(WelcomeOutcome(step), errcode=exc.errcode, attempts=attempts)
                if step == "fresh_token":
                    token_refused = True
                    attempts -= 1  # refused for its token, the welcome code unread: not an attempt at it
                    continue  # at once, with a fresh token (the client has invalidated the refused one)
                if step == "renew_media" and renew_media is not None:
                    renew_media()  # once: the code was not consumed, a fresh upload may still make it
                    renew_media, errcode = None, exc.errcode
                    continue
                errcode = exc.errcode
            except TransportError as exc:
                errcode = exc.status
            time_for_more_s = (claimed.deadline_ms - self.clock()) / 1000 - LAST_ATTEMPT_S
            if (
                time_for_more_s <= 0
            ):  # no pause can fit before one more attempt: a zero pause would be a burst
                return Result(WelcomeOutcome.EXPIRED, errcode=errcode, attempts=attempts)
            self.sleep(min(backoff * (0.5 + random.random()), time_for_more_s))  # noqa: S311 - jitter only
            backoff = min(backoff * 2, 1.0)

    @contextlib.contextmanager
    def _first_error_of(self, claimed: Claimed) -> Iterator[None]:
        """Remember the first failure of the event's send attempts. Why: when the connection drops after
        WeCom delivered, the retry's 41051 reads ``already_sent`` as if someone else had sent it; the log
        keeps the first error (and ``attempts``) so an operator sees our own attempt may have."""
        try:
            yield
        except WeComError as exc:
            claimed.first_error = claimed.first_error or f"errcode {exc.errcode}"
            raise
        except TransportError as exc:  # reason: an exception type or an HTTP status, never the URL
            on_send = exc.path == wecom_welcome.SEND_WELCOME_MSG
            where = "" if on_send else f"{exc.path}: "  # e.g. gettoken failing
            claimed.first_error = claimed.first_error or where + exc.reason
            raise

    # -------------------------------------------------------------------------------------------- log
    def _record_base(self, event: Mapping[str, str | int]) -> dict[str, Any]:
        retention_s = self.settings.log_retention_days * 86400
        return {
            "external_userid": event.get("ExternalUserID", ""),
            "userid": event.get("UserID", ""),
            "state": event.get("State", ""),
            "change_type": event.get("ChangeType", ""),
            "create_time": int(event.get("CreateTime") or 0),
            "expires_at": int(time.time()) + retention_s,
        }

    def _record(self, claimed: Claimed, event: Mapping[str, str | int], result: Result) -> None:
        outcome: WelcomeRecord = {**result.fields(), "recorded_at_ms": self.clock()}
        recorded = self.repo.record_welcome_outcome(
            claimed.key,
            claimed.owner,
            outcome,
            external_userid=str(event.get("ExternalUserID", "")),
            userid=str(event.get("UserID", "")),
            create_time=int(event.get("CreateTime") or 0),
        )
        if not recorded:
            logger.warning("welcome outcome not recorded: another invocation owns the event now")


RefusalStep = Literal["failed", "already_sent", "fresh_token", "renew_media", "retry"]


def _after_refusal(exc: WeComError, *, token_refused: bool, can_renew: bool) -> RefusalStep:
    """What a welcome send does after WeCom refused an attempt: give up (``failed``; ``already_sent``, which
    the log records as such), resend at once with a fresh token (only once: a fresh token refused too is not
    transient), re-upload a rejected media id and resend at once (only once), or retry after a pause."""
    if isinstance(exc, TokenError):
        return "failed" if token_refused else "fresh_token"
    if exc.errcode == Errcode.WELCOME_ALREADY_SENT:
        return "already_sent"
    if exc.errcode == Errcode.INVALID_MEDIA_ID and can_renew:
        return "renew_media"
    if exc.errcode != Errcode.WELCOME_BEING_SENT and not exc.retryable:
        return "failed"
    return "retry"
