"""``/admin/welcome-rules`` and ``/admin/welcomes``."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from admin_api.models.common import RULE_ID_PATTERN, error_responses
from admin_api.models.responses import Rule, RuleList, SavedRule, WelcomePage
from admin_api.models.welcome import RuleBody
from admin_api.routes.common import as_sent, no_content, ok, query, success
from wecom_bundle import runtime, validation

router = Router()
RuleId = Annotated[str, Path(pattern=RULE_ID_PATTERN, description="letters, digits, '.', '_' or '-'")]
Limit = Annotated[int | None, Query(ge=1, le=validation.MAX_PAGE, description="page size")]
Cursor = Annotated[str | None, Query(description="the cursor of the previous page")]


@router.get("/admin/welcome-rules", responses={200: success("rules, highest priority first", RuleList)})
def list_rules():
    return ok(200, {"items": runtime.welcome_admin().list_rules()})


@router.get(
    "/admin/welcome-rules/<rule_id>", responses={200: success("the rule", Rule), **error_responses(400, 404)}
)
def get_rule(rule_id: RuleId):
    return ok(200, runtime.welcome_admin().get_rule(rule_id))


@router.put(
    "/admin/welcome-rules/<rule_id>",
    responses={
        200: success("replaced (with warnings)", SavedRule),
        201: success("created (with warnings)", SavedRule),
        **error_responses(400),
    },
)
def put_rule(rule_id: RuleId, body: Annotated[RuleBody, Body()]):
    rule, created = runtime.welcome_admin().put_rule(rule_id, as_sent(body))
    return ok(201 if created else 200, rule)


@router.delete(
    "/admin/welcome-rules/<rule_id>", responses={204: success("deleted"), **error_responses(400, 404)}
)
def delete_rule(rule_id: RuleId):
    runtime.welcome_admin().delete_rule(rule_id)
    return no_content()


@router.get(
    "/admin/welcomes", responses={200: success("welcomes, newest first", WelcomePage), **error_responses(400)}
)
def list_welcomes(
    external_userid: Annotated[str | None, Query()] = None,
    userid: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    since: Annotated[
        str | None, Query(description="epoch seconds or ISO 8601 (without an offset: in WELCOME_TIMEZONE)")
    ] = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    return ok(200, runtime.welcome_admin().list_welcomes(query(router.current_event)))
