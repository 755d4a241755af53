"""``/admin/campaigns``: create (and its preview), list, show, cancel, remind, results and the skipped."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from refusals import create_status

from admin_api.models.campaigns import IDEMPOTENCY_KEY_PATTERN, CampaignBody, RemindBody
from admin_api.models.common import error_responses
from admin_api.models.responses import (
    Campaign,
    CampaignCancelled,
    CampaignCreated,
    CampaignPage,
    CampaignPreview,
    Reminded,
    ResultsPage,
    SkippedPage,
)
from admin_api.routes.common import as_sent, ok, query, success
from wecom_bundle import runtime, validation
from wecom_bundle.campaigns import cancel, create, preview, queries, reminders, results

router = Router()
Limit = Annotated[int | None, Query(ge=1, le=validation.MAX_PAGE, description="page size")]
Cursor = Annotated[str | None, Query(description="the cursor of the previous page")]
ResultStatus = Literal[results.RESULT_STATUSES]  # type: ignore[valid-type]
CampaignStatus = Literal[queries.STATUSES]  # type: ignore[valid-type]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)]


def _deadline() -> float | None:
    """Stop creating chunks 5 s before the Lambda timeout; the scheduled function resumes the rest."""
    remaining = getattr(router.lambda_context, "get_remaining_time_in_millis", None)
    return time.monotonic() + max(0.0, remaining() / 1000 - 5) if remaining else None


@router.post(
    "/admin/campaigns",
    responses={
        200: success("a replayed create (Idempotent-Replayed: true)", CampaignCreated),
        201: success("created or scheduled", CampaignCreated),
        202: success("accepted: the scheduled function creates the remaining tasks", CampaignCreated),
        **error_responses(400, 409, 503),
    },
)
def create_campaign(body: Annotated[CampaignBody, Body()], idempotency_key: IdempotencyKey = None):
    key = router.current_event.headers.get("Idempotency-Key")  # case-insensitive; "" when sent empty
    result = create.create_campaign(runtime.campaign_deps(), as_sent(body), key, deadline=_deadline())
    response = ok(create_status(creating=result.creating, replayed=result.replayed), result.body)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@router.post(
    "/admin/campaigns/preview",
    responses={
        200: success("what a create with this body would do (nothing sent, nothing stored)", CampaignPreview),
        **error_responses(400, 503),
    },
)
def preview_campaign(body: Annotated[CampaignBody, Body()], idempotency_key: IdempotencyKey = None):
    """The create's body and header, validated the same way (the same 400s); the key is not used."""
    return ok(200, preview.preview_campaign(runtime.campaign_deps(), as_sent(body)))


@router.get(
    "/admin/campaigns",
    responses={200: success("campaigns, newest first", CampaignPage), **error_responses(400)},
)
def list_campaigns(
    status: Annotated[CampaignStatus | None, Query()] = None, limit: Limit = None, cursor: Cursor = None
):
    return ok(200, queries.list_campaigns(runtime.campaign_deps(), query(router.current_event)))


@router.get(
    "/admin/campaigns/<campaign_id>",
    responses={200: success("the campaign", Campaign), **error_responses(404)},
)
def get_campaign(campaign_id: str):
    return ok(200, queries.get_campaign(runtime.campaign_deps(), campaign_id))


@router.post(
    "/admin/campaigns/<campaign_id>/cancel",
    responses={200: success("cancelled", CampaignCancelled), **error_responses(404, 409, 503)},
)
def cancel_campaign(campaign_id: str):
    return ok(200, cancel.cancel_campaign(runtime.campaign_deps(), campaign_id))


@router.post(
    "/admin/campaigns/<campaign_id>/remind",
    responses={200: success("the reminders sent", Reminded), **error_responses(400, 404, 409, 429, 503)},
)
def remind_campaign(campaign_id: str, body: Annotated[RemindBody | None, Body()] = None):
    return ok(200, reminders.remind_campaign(runtime.campaign_deps(), campaign_id, as_sent(body)))


@router.get(
    "/admin/campaigns/<campaign_id>/skipped",
    responses={
        200: success("the customers a skip_capped create left out, a page at a time", SkippedPage),
        **error_responses(400, 404),
    },
)
def get_campaign_skipped(campaign_id: str, cursor: Cursor = None):
    return ok(200, queries.skipped_page(runtime.campaign_deps(), campaign_id, query(router.current_event)))


@router.get(
    "/admin/campaigns/<campaign_id>/results",
    responses={
        200: OpenAPIResponse(
            description="a page of result rows (CSV: the next cursor in X-Next-Cursor)",
            content={"application/json": {"model": ResultsPage}, "text/csv": {"schema": {"type": "string"}}},
        ),
        **error_responses(400, 404),
    },
)
def get_campaign_results(
    campaign_id: str,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
    status: Annotated[ResultStatus | None, Query()] = None,
    member: Annotated[str | None, Query(description="a member's userid")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    params = query(router.current_event)
    deps = runtime.campaign_deps()
    page = results.results_page(deps, queries.known_id(campaign_id), params)
    if params.get("format") == "csv":  # a page at a time too: the next page's cursor is in a header
        headers = {"X-Next-Cursor": page.cursor} if page.cursor else None
        return Response(200, "text/csv; charset=utf-8", page.csv(), headers=headers)
    return ok(200, {"items": page.items, "cursor": page.cursor})
