"""The admin function's one table from domain errors to HTTP statuses, codes and error bodies.

The admin tests prove the contract end to end through HTTP; these pin the table itself: every domain error
type has an answer, every answer is a 4xx except WeCom (or its media upload) being unavailable, a 503, and each
body is exactly ``{"error": {"code", "message", ...facts}}`` as the contract documents it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import admin_refusals
from wecom_bundle import domain_errors as de

# Grouping bases that no service raises as such: they have no row (and so no code the contract lacks).
BASES = {de.DomainError, de.Conflict}


def _error_types() -> list[type[de.DomainError]]:
    return [
        value
        for value in vars(de).values()
        if isinstance(value, type) and issubclass(value, de.DomainError) and value not in BASES
    ]


@pytest.mark.parametrize("error_type", _error_types(), ids=lambda t: t.__name__)
def test_every_domain_error_type_has_a_row_and_only_unavailability_is_a_5xx(
    error_type: type[de.DomainError],
) -> None:
    assert error_type in admin_refusals().STATUS_AND_CODE  # its own row: no type answers by accident
    status, code = admin_refusals().STATUS_AND_CODE[error_type]
    if issubclass(error_type, de.WeComUnavailable | de.OverTimeBudget):  # WeCom's, or the table's, capacity
        assert status == 503
    else:
        assert 400 <= status < 500
    assert code and code.islower()


def test_the_table_holds_only_domain_errors() -> None:
    assert set(admin_refusals().STATUS_AND_CODE) == set(_error_types())


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            de.InvalidField("attachments[0].link.url", "must be an https URL"),
            400,
            {
                "code": "invalid_request",
                "message": "must be an https URL",
                "field": "attachments[0].link.url",
            },
        ),
        (
            de.MediaMissing("s3 object 'a.png' does not exist in the media bucket"),
            400,
            {"code": "invalid_request", "message": "s3 object 'a.png' does not exist in the media bucket"},
        ),
        (
            de.WeComRefused("WeCom refused the campaign: invalid userid", errcode=None, campaign_id="cmp-1"),
            400,
            {
                "code": "wecom_error",
                "message": "WeCom refused the campaign: invalid userid",
                "errcode": None,
                "campaign_id": "cmp-1",
            },
        ),
        (
            de.WeComRefused("WeCom refused the reminder", errcode=41035),
            400,
            {"code": "wecom_error", "message": "WeCom refused the reminder", "errcode": 41035},
        ),
        (
            de.NotOwned("only the app that created it", errcode=48002),
            403,
            {"code": "not_template_owner", "message": "only the app that created it", "errcode": 48002},
        ),
        (
            de.NotFound("campaign cmp-x does not exist"),
            404,
            {"code": "not_found", "message": "campaign cmp-x does not exist"},
        ),
        (
            de.NotFound("WeCom has no group welcome template t1", errcode=40037),
            404,
            {"code": "not_found", "message": "WeCom has no group welcome template t1", "errcode": 40037},
        ),
        (
            de.IdempotencyConflict("Idempotency-Key conflict: other body", campaign_id="cmp-2"),
            409,
            {
                "code": "idempotency_conflict",
                "message": "Idempotency-Key conflict: other body",
                "campaign_id": "cmp-2",
            },
        ),
        (
            de.IdempotencyConflict("Idempotency-Key conflict: in use"),
            409,
            {"code": "idempotency_conflict", "message": "Idempotency-Key conflict: in use"},
        ),
        (
            de.InvalidState("the campaign failed"),
            409,
            {"code": "invalid_state", "message": "the campaign failed"},
        ),
        (
            de.NothingToDo("every member has sent"),
            409,
            {"code": "nothing_to_remind", "message": "every member has sent"},
        ),
        (
            de.LimitReached("at most 100", errcode=41055, count=3, limit=100),
            409,
            {
                "code": "template_limit_reached",
                "message": "at most 100",
                "errcode": 41055,
                "count": 3,
                "limit": 100,
            },
        ),
        (
            de.TooSoon("at most 3 reminders per msgid in 24 hours", next_allowed_at=1_700_000_000),
            429,
            {
                "code": "reminder_limit",
                "message": "at most 3 reminders per msgid in 24 hours",
                "next_allowed_at": 1_700_000_000,
            },
        ),
        (
            de.WeComUnavailable("WeCom did not answer"),
            503,
            {"code": "wecom_unavailable", "message": "WeCom did not answer"},
        ),
        (
            de.WeComBusy("WeCom is busy or rate-limiting: busy", errcode=-1),
            503,
            {"code": "wecom_busy", "message": "WeCom is busy or rate-limiting: busy", "errcode": -1},
        ),
        (
            de.MediaUploadFailed("uploading 'a.png' to WeCom failed; try again"),
            503,
            {"code": "media_unavailable", "message": "uploading 'a.png' to WeCom failed; try again"},
        ),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else "",
)
def test_each_error_answers_exactly_as_the_contract_says(
    error: de.DomainError, status: int, body: dict[str, Any]
) -> None:
    answer_status, doc = admin_refusals().error_answer(error)
    assert (answer_status, doc) == (status, {"error": body})
    assert list(doc["error"]) == list(body)  # the same key order as before: code, message, then the facts


def test_a_subclass_without_a_row_answers_as_its_nearest_base() -> None:
    class TemplateGone(de.NotFound):
        pass

    assert admin_refusals().error_answer(TemplateGone("gone")) == (
        404,
        {"error": {"code": "not_found", "message": "gone"}},
    )


def test_an_error_outside_the_table_is_a_fault_not_a_guess() -> None:
    class Unlisted(de.DomainError):
        pass

    with pytest.raises(LookupError, match="Unlisted"):
        admin_refusals().status_and_code(Unlisted("x"))


@pytest.mark.parametrize(
    ("creating", "replayed", "status"),
    [(False, False, 201), (True, False, 202), (False, True, 200), (True, True, 202)],
)
def test_a_campaign_create_answers_201_202_or_200(creating: bool, replayed: bool, status: int) -> None:
    assert admin_refusals().create_status(creating=creating, replayed=replayed) == status
