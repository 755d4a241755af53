"""What can go wrong in the bundle's services, said in the domain's words.

Services raise these and know nothing of HTTP: the admin function holds the one table that turns each type
into a status and an error code (``functions/admin/refusals.py``); the scheduled functions catch or log them.
Each error carries its message (safe to show: never a secret, a token or a customer's content) and, as
attributes, the facts an operator needs to act on it (WeCom's errcode, a count, when to try again).
``details()`` lists those facts in the order the admin API shows them.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every refusal a service raises on purpose (anything else is a fault)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """The facts beside the message (none by default)."""
        return {}


# ------------------------------------------------------------------------------------------------ the input
class InvalidField(DomainError, ValueError):
    """Bad input, named by its field path (``attachments[0].link.url``); nothing was changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.args = (f"{field}: {message}",)  # str(exc) names the field too, as it always did
        self.field = field

    def details(self) -> dict[str, Any]:
        return {"field": self.field}


class MediaMissing(DomainError):
    """A referenced bucket object vanished between the check and the upload (no field to name by then)."""


# ------------------------------------------------------------------------------------------------ the state
class NotFound(DomainError, LookupError):
    """The addressed entity does not exist (here, or in WeCom: then ``errcode`` says WeCom's answer)."""

    def __init__(self, message: str, errcode: int | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode

    def details(self) -> dict[str, Any]:
        return {} if self.errcode is None else {"errcode": self.errcode}


class Conflict(DomainError):
    """The request contradicts what is stored; retrying it unchanged gives the same answer. A grouping base:
    services raise one of its subclasses."""


class IdempotencyConflict(Conflict):
    """An Idempotency-Key already used with another body (``campaign_id``: the campaign it made) or held by a
    request still running."""

    def __init__(self, message: str, campaign_id: str | None = None) -> None:
        super().__init__(message)
        self.campaign_id = campaign_id

    def details(self) -> dict[str, Any]:
        return {} if self.campaign_id is None else {"campaign_id": self.campaign_id}


class InvalidState(Conflict):
    """The entity's state does not allow the operation (a failed campaign cannot be cancelled, ...)."""


class NothingToDo(Conflict):
    """The operation has nothing left to act on (every member has sent: nobody to remind)."""


class AudienceCapped(Conflict):
    """``skip_capped`` would leave nobody: every one of the ``count`` customers is capped in the current
    period (no empty task is sent to WeCom)."""

    def __init__(self, message: str, *, count: int, period: str) -> None:
        super().__init__(message)
        self.count = count
        self.period = period

    def details(self) -> dict[str, Any]:
        return {"count": self.count, "period": self.period}


class LimitReached(Conflict):
    """A WeCom cap is full: ``count`` of ``limit`` are this app's; WeCom's ``errcode`` travels along."""

    def __init__(self, message: str, *, errcode: int, count: int, limit: int) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.count = count
        self.limit = limit

    def details(self) -> dict[str, Any]:
        return {"errcode": self.errcode, "count": self.count, "limit": self.limit}


class TooSoon(DomainError):
    """A rate cap of ours refused every item; ``next_allowed_at`` (epoch seconds) is when one frees up."""

    def __init__(self, message: str, next_allowed_at: int) -> None:
        super().__init__(message)
        self.next_allowed_at = next_allowed_at

    def details(self) -> dict[str, Any]:
        return {"next_allowed_at": self.next_allowed_at}


class OverTimeBudget(DomainError):
    """The request could not finish within its time budget (``budget_s``), so it stopped and changed
    nothing, rather than outlasting the gateway's own timeout."""

    def __init__(self, message: str, budget_s: float) -> None:
        super().__init__(message)
        self.budget_s = budget_s

    def details(self) -> dict[str, Any]:
        return {"budget_s": self.budget_s}


class NotOwned(DomainError):
    """WeCom lets only the app that created an entity change it, and this app did not."""

    def __init__(self, message: str, errcode: int) -> None:
        super().__init__(message)
        self.errcode = errcode

    def details(self) -> dict[str, Any]:
        return {"errcode": self.errcode}


# ------------------------------------------------------------------------------------------------ WeCom
class WeComRefused(DomainError):
    """WeCom answered a definite no (``errcode``; None when the refusal was recorded without one). For a
    campaign, ``campaign_id`` names the failed campaign that keeps the refusal."""

    def __init__(self, message: str, errcode: int | None, campaign_id: str | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.campaign_id = campaign_id

    def details(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"errcode": self.errcode}
        return facts if self.campaign_id is None else facts | {"campaign_id": self.campaign_id}


class WeComUnavailable(DomainError):
    """WeCom did not give a usable answer; nothing is known to have changed and a retry may succeed."""


class WeComBusy(WeComUnavailable):
    """WeCom answered with a busy or rate-limit errcode (kept in ``errcode``)."""

    def __init__(self, message: str, errcode: int) -> None:
        super().__init__(message)
        self.errcode = errcode

    def details(self) -> dict[str, Any]:
        return {"errcode": self.errcode}


class MediaUploadFailed(WeComUnavailable):
    """A bucket object could not be uploaded to WeCom just now; WeCom was not asked to change anything."""
