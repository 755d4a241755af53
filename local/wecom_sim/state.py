"""Everything the simulated WeCom remembers, behind one lock.

Why one lock: the server is threaded and a single request often touches several collections (a mass-send task
reads contacts, media and the monthly counters). One re-entrant lock keeps every request atomic and is cheap at
simulator traffic. Never hold it while sleeping or doing network I/O (faults' delays, callback pushes).
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from typing import Any

from .clock import SimClock
from .config import SimulatorConfig
from .models import (
    CallRecord,
    Chat,
    ContactWay,
    Customer,
    DeliveredWelcome,
    Fault,
    GroupMsgTask,
    Media,
    Member,
    PushRecord,
    WelcomeCode,
    WelcomeTemplate,
)

# The corp's tag library (企业客户标签): tag id -> name. mark_tag accepts only these ids; tests and the demo
# add more through the control API.
SEED_TAGS = {"etTagVip": "VIP", "etTagExpo": "Expo", "etTagLead": "Lead"}
MAX_CALL_LOG = 10_000  # oldest entries are dropped beyond this, so a long `make run` cannot grow unbounded


class SimulatorState:
    """The simulated corp. Read or change it only inside ``with state.lock:``."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.clock = SimClock()
        self.base_url = ""  # set by the server once it is bound; used for image URLs
        self._clear()

    def _clear(self) -> None:
        self.tokens: dict[str, float] = {}  # access_token -> expires_at (sim clock)
        self.current_token: str | None = None
        self.gettoken_calls = 0
        self.tokens_issued = 0
        self.members: dict[str, Member] = {}
        self.customers: dict[str, Customer] = {}
        self.chats: dict[str, Chat] = {}
        self.welcome_codes: dict[str, WelcomeCode] = {}
        self.welcomes: list[DeliveredWelcome] = []
        self.media: dict[str, Media] = {}
        self.images: dict[str, Media] = {}  # uploadimg: permanent
        self.tasks: dict[str, GroupMsgTask] = {}
        # (external_userid or chat_id, "YYYY-MM") -> mass messages received that month
        self.monthly_receipts: Counter[tuple[str, str]] = Counter()
        self.templates: dict[str, WelcomeTemplate] = {}
        self.corp_tags: dict[str, str] = dict(SEED_TAGS)
        self.contact_ways: dict[str, ContactWay] = {}
        self.faults: list[Fault] = []
        # The app's 企业可信IP (``POST /__sim/trusted_ips``): None = no rule; else callers outside get 60020,
        # on gettoken too only when ``trusted_ips_gettoken``.
        self.trusted_ips: frozenset[str] | None = None
        self.trusted_ips_gettoken = False
        # WeCom may answer a last page that is empty (a cursor, then nothing): make every paginated answer
        # end that way, so clients prove they follow a cursor to a page with no rows.
        self.trailing_empty_page = False
        self.calls: list[CallRecord] = []
        self.pushes: list[PushRecord] = []
        self.cursor_key = secrets.token_bytes(16)

    def reset(self) -> None:
        """Forget everything (contacts, tokens, tasks, faults, logs) and put the clock back to real time."""
        with self.lock:
            self._clear()
            self.clock.reset()

    def now(self) -> float:
        return self.clock.now()

    @staticmethod
    def new_id(prefix: str, nbytes: int = 18) -> str:
        """An opaque id in WeCom's style (a prefix and url-safe random characters)."""
        return prefix + secrets.token_urlsafe(nbytes)

    def record_call(self, record: CallRecord) -> None:
        with self.lock:
            self.calls.append(record)
            if len(self.calls) > MAX_CALL_LOG:
                del self.calls[: len(self.calls) - MAX_CALL_LOG]

    def ensure_member(self, userid: str, name: str | None = None) -> Member:
        member = self.members.get(userid)
        if member is None:
            member = self.members[userid] = Member(userid=userid, name=name or userid)
        elif name:
            member.name = name
        return member

    def delivered_welcomes(self) -> list[dict[str, Any]]:
        with self.lock:
            return [w.as_dict() for w in self.welcomes]

    def summary(self) -> dict[str, Any]:
        """Counts for ``GET /__sim/state`` and for test assertions."""
        with self.lock:
            now = self.now()
            return {
                "now": now,
                "clock_offset": self.clock.offset,
                "gettoken_calls": self.gettoken_calls,
                "tokens_issued": self.tokens_issued,
                "tokens_valid": sum(1 for exp in self.tokens.values() if exp > now),
                "members": len(self.members),
                "customers": len(self.customers),
                "chats": len(self.chats),
                "welcome_codes_issued": len(self.welcome_codes),
                "welcomes_delivered": len(self.welcomes),
                "tasks": len(self.tasks),
                "tasks_cancelled": sum(1 for t in self.tasks.values() if t.cancelled_at is not None),
                "reminders": sum(len(t.reminders) for t in self.tasks.values()),
                "templates": len(self.templates),
                "contact_ways": len(self.contact_ways),
                "media": len(self.media),
                "images": len(self.images),
                "faults_pending": sum(f.times for f in self.faults),
                "calls": len(self.calls),
                "callbacks_pushed": len(self.pushes),
            }
