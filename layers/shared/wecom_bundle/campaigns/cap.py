"""WeCom's per-customer mass-send cap as the campaign services see it: who is capped now, and what is pending.

Why a Protocol here and not an import of the customers package: the counters belong to ``customers/``
(written by the result sync); campaigns only ask three questions of them (preview, ``skip_capped``). Services
receive a ``CapCheck`` through ``CampaignDeps.cap`` (built by ``runtime.cap_check``), and tests pass a fake.
Every answer is about the period that contains ``now`` (``MASS_SEND_CUSTOMER_LIMIT``: a calendar month, an
ISO week or a day in ``WELCOME_TIMEZONE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from wecom_bundle.validation import ValidationError

SAMPLE_SIZE = 100  # capped ids a preview lists (the count is always complete)
SKIPPED_PART = ("SKIP", 0)  # (kind, chunk) of the parts that keep the customers a skip_capped create left out


class CapCheck(Protocol):
    """The cap in force and the customers it holds back (key lookups only: never a Scan)."""

    @property
    def rule(self) -> str:
        """``"month"`` | ``"week"`` | ``"day"`` (``MASS_SEND_CUSTOMER_LIMIT``)."""
        ...

    def limit(self, now: int) -> int:
        """N of the period containing ``now``: the days of that month, 7 or 1 (a method: a month's N varies)."""
        ...

    def period(self, now: int) -> str:
        """The id of the period containing ``now`` (e.g. ``2026-02``, ``2026-W01``, ``2026-12-05``)."""
        ...

    def within(self, deadline: float) -> CapCheck:
        """The same cap, whose reads stop at ``deadline`` (``time.monotonic``) with
        ``dynamo.table.DeadlinePassed``: a request with a time budget (preview) asks through it."""
        ...

    def capped(self, external_userids: Sequence[str], now: int) -> list[str]:
        """The ids capped in the current period, in input order, each once."""
        ...

    def pending(self, external_userids: Sequence[str], now: int) -> int:
        """How many of the ids have an unsent message of a task still running in the current period (they may
        become capped when the members send)."""
        ...


def capped_among(caps: CapCheck, ids: Sequence[str], now: int) -> list[str]:
    """The capped ones of ``ids`` in ``ids``' order, each once: what preview and create count and skip
    (whatever else a reader answers is not part of this audience)."""
    held = set(caps.capped(ids, now))
    return [i for i in dict.fromkeys(ids) if i in held]


def uncapped(ids: Sequence[str], capped: Sequence[str]) -> list[str]:
    """``ids`` without the capped ones, order kept (chunks of a ``skip_capped`` create stay stable)."""
    held = set(capped)
    return [i for i in ids if i not in held]


def check_send_at(caps: CapCheck, spec: dict[str, Any], now: int) -> None:
    """``skip_capped`` decides on today's counters, so a campaign scheduled into a later period would leave
    out customers whose quota has renewed by then: refused (the field named) instead of silently wrong."""
    send_at = spec["send_at"]
    if (
        spec["skip_capped"]
        and send_at is not None
        and send_at > now
        and caps.period(send_at) != caps.period(now)
    ):
        raise ValidationError(
            "skip_capped",
            f"needs send_at in the current period of the cap ({caps.period(now)}, rule {caps.rule})",
        )
