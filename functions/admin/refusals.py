"""The admin API's one table from domain errors to HTTP: status, contract error code, and the error body.

The services raise ``wecom_bundle.domain_errors`` and know nothing of HTTP; this module (imported by the admin
function only) is where the contract's statuses and codes live, so changing one is a one-line change here.
The body is ``{"error": {"code", "message", ...details}}``: the details are the error's own facts
(``field``, ``errcode``, ``count``, ``next_allowed_at`` ...).
"""

from __future__ import annotations

from typing import Any

from wecom_bundle import domain_errors as de

# Most specific first is not needed: the lookup walks each error's class hierarchy (its MRO), so a subclass
# without a row answers as its nearest listed base.
STATUS_AND_CODE: dict[type[de.DomainError], tuple[int, str]] = {
    de.InvalidField: (400, "invalid_request"),
    de.MediaMissing: (400, "invalid_request"),
    de.WeComRefused: (400, "wecom_error"),
    de.NotOwned: (403, "not_template_owner"),
    de.NotFound: (404, "not_found"),
    de.IdempotencyConflict: (409, "idempotency_conflict"),
    de.InvalidState: (409, "invalid_state"),
    de.NothingToDo: (409, "nothing_to_remind"),
    de.LimitReached: (409, "template_limit_reached"),
    de.AudienceCapped: (409, "audience_capped"),
    de.TooSoon: (429, "reminder_limit"),
    de.WeComUnavailable: (503, "wecom_unavailable"),
    de.WeComBusy: (503, "wecom_busy"),
    de.MediaUploadFailed: (503, "media_unavailable"),
    de.OverTimeBudget: (503, "over_time_budget"),
}


def status_and_code(exc: de.DomainError) -> tuple[int, str]:
    """The row of ``exc``'s class, or of its nearest listed base class."""
    for cls in type(exc).__mro__:
        if cls in STATUS_AND_CODE:
            return STATUS_AND_CODE[cls]
    raise LookupError(f"no HTTP answer for {type(exc).__name__}")  # a new error type needs its row here


def error_answer(exc: de.DomainError) -> tuple[int, dict[str, Any]]:
    """The status and the JSON document of a refusal."""
    status, code = status_and_code(exc)
    return status, {"error": {"code": code, "message": exc.message, **exc.details()}}


def create_status(*, creating: bool, replayed: bool) -> int:
    """A campaign create: 202 while the scheduled function still creates tasks, 201 created or scheduled,
    200 for a replayed 201 (a replayed 202 stays 202: the campaign is still creating)."""
    if creating:
        return 202
    return 200 if replayed else 201
