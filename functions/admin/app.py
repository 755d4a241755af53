"""AdminFunction: the operators' JSON API (IAM-signed when deployed, open on loopback locally).

Each route parses its input, calls one layer service and shapes the answer; every error leaves as
``{"error": {"code", "message"[, "field"][, "errcode"]}}`` with the status ``refusals.STATUS_AND_CODE`` gives
the service's domain error (the services themselves know nothing of HTTP).
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from refusals import create_status, error_answer

from wecom_bundle import (
    apigw,
    openapi,
    runtime,
)
from wecom_bundle.campaigns import cancel, create, queries, reminders, results
from wecom_bundle.domain_errors import DomainError
from wecom_bundle.validation import MAX_JSON_DEPTH, ValidationError, check_json, check_text

logger = Logger()
app = APIGatewayHttpResolver()


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    return Response(
        status,
        content_types.APPLICATION_JSON,
        json.dumps({"error": {"code": code, "message": message, **extra}}),
    )


def _ok(status: int, doc: Any) -> Response:
    return Response(status, content_types.APPLICATION_JSON, json.dumps(doc, ensure_ascii=False))


MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's own request limit; each field has its own, smaller one


def _body_text() -> str:
    """The request body as text: base64 (API Gateway's encoding of binary bodies) and UTF-8 checked here,
    where it enters, so a bad body is a 400 naming ``body`` rather than a UnicodeDecodeError later."""
    event = app.current_event.raw_event
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        text = str(body)
    else:
        try:
            text = apigw.raw_body(event).decode("utf-8")
        except apigw.BodyError as exc:
            raise ValidationError("body", "is not valid base64") from exc
        except UnicodeDecodeError as exc:
            raise ValidationError("body", "is not UTF-8 text") from exc
    if len(text) > MAX_BODY_BYTES:
        raise ValidationError("body", f"must be at most {MAX_BODY_BYTES} bytes")
    return text


def _json_body() -> Any:
    body = _body_text()
    if not body:
        raise ValidationError("body", "a JSON body is required")
    try:
        doc = json.loads(body)
    except RecursionError as exc:
        raise ValidationError("body", f"nests deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:
        raise ValidationError("body", "is not valid JSON") from exc
    return check_json(doc)


@app.exception_handler(DomainError)
def _refused(exc: DomainError) -> Response:
    """Every domain error, through the one table (``refusals.py``)."""
    status, doc = error_answer(exc)
    return Response(status, content_types.APPLICATION_JSON, json.dumps(doc))


@app.not_found
def _no_route(_exc: Exception) -> Response:
    return _error(404, "not_found", "no such route")


@app.get("/admin/health")
def health() -> Response:
    return _ok(200, {"status": "ok"})


@app.get("/admin/openapi.json")
def openapi_document() -> Response:
    return _ok(200, openapi.document())


@app.get("/admin/welcome-rules")
def list_rules() -> Response:
    return _ok(200, {"items": runtime.welcome_admin().list_rules()})


@app.get("/admin/welcome-rules/<rule_id>")
def get_rule(rule_id: str) -> Response:
    return _ok(200, runtime.welcome_admin().get_rule(rule_id))


@app.put("/admin/welcome-rules/<rule_id>")
def put_rule(rule_id: str) -> Response:
    rule, created = runtime.welcome_admin().put_rule(rule_id, _json_body())
    return _ok(201 if created else 200, rule)


@app.delete("/admin/welcome-rules/<rule_id>")
def delete_rule(rule_id: str) -> Response:
    runtime.welcome_admin().delete_rule(rule_id)
    return Response(204, content_types.APPLICATION_JSON, "")


@app.get("/admin/welcomes")
def list_welcomes() -> Response:
    return _ok(200, runtime.welcome_admin().list_welcomes(_query()))


# ------------------------------------------------------------------------------------------------ campaigns


def _query() -> dict[str, str]:
    """Query parameters, each name and value checked as text (the value is never echoed)."""
    params = {str(k): str(v) for k, v in (app.current_event.query_string_parameters or {}).items()}
    for name, value in params.items():
        check_text(name, "query")
        check_text(value, name)
    return params


def _optional_json_body() -> Any:
    return _json_body() if app.current_event.raw_event.get("body") else None


def _deadline() -> float | None:
    """Stop creating chunks 5 s before the Lambda timeout; the scheduled function resumes the rest."""
    remaining = getattr(app.lambda_context, "get_remaining_time_in_millis", None)
    return time.monotonic() + max(0.0, remaining() / 1000 - 5) if remaining else None


@app.post("/admin/campaigns")
def create_campaign() -> Response:
    key = app.current_event.headers.get("Idempotency-Key")  # case-insensitive; "" when sent empty
    result = create.create_campaign(runtime.campaign_deps(), _json_body(), key, deadline=_deadline())
    response = _ok(create_status(creating=result.creating, replayed=result.replayed), result.body)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@app.get("/admin/campaigns")
def list_campaigns() -> Response:
    return _ok(200, queries.list_campaigns(runtime.campaign_deps(), _query()))


@app.get("/admin/campaigns/<campaign_id>")
def get_campaign(campaign_id: str) -> Response:
    return _ok(200, queries.get_campaign(runtime.campaign_deps(), campaign_id))


@app.post("/admin/campaigns/<campaign_id>/cancel")
def cancel_campaign(campaign_id: str) -> Response:
    return _ok(200, cancel.cancel_campaign(runtime.campaign_deps(), campaign_id))


@app.post("/admin/campaigns/<campaign_id>/remind")
def remind_campaign(campaign_id: str) -> Response:
    return _ok(200, reminders.remind_campaign(runtime.campaign_deps(), campaign_id, _optional_json_body()))


@app.get("/admin/campaigns/<campaign_id>/results")
def get_campaign_results(campaign_id: str) -> Response:
    query = _query()
    if query.get("format", "json") not in ("json", "csv"):
        raise ValidationError("format", "must be json or csv")
    page = results.results_page(runtime.campaign_deps(), queries.known_id(campaign_id), query)
    if query.get("format") == "csv":  # a page at a time too: the next page's cursor is in a header
        headers = {"X-Next-Cursor": page.cursor} if page.cursor else None
        return Response(200, "text/csv; charset=utf-8", page.csv(), headers=headers)
    return _ok(200, {"items": page.items, "cursor": page.cursor})


# ------------------------------------------------------------------------------------------ group templates
@app.post("/admin/group-welcome-templates")
def create_group_template() -> Response:
    return _ok(201, runtime.group_templates().create_template(_json_body()))


@app.get("/admin/group-welcome-templates")
def list_group_templates() -> Response:
    return _ok(200, runtime.group_templates().list_templates())


@app.post("/admin/group-welcome-templates/reconcile")
def reconcile_group_templates() -> Response:
    return _ok(200, runtime.group_template_reconcile().reconcile(_optional_json_body()))


@app.get("/admin/group-welcome-templates/<template_id>")
def get_group_template(template_id: str) -> Response:
    return _ok(200, runtime.group_templates().get_template(template_id))


@app.put("/admin/group-welcome-templates/<template_id>")
def edit_group_template(template_id: str) -> Response:
    return _ok(200, runtime.group_templates().edit_template(template_id, _json_body()))


@app.delete("/admin/group-welcome-templates/<template_id>")
def delete_group_template(template_id: str) -> Response:
    doc = runtime.group_templates().delete_template(template_id)
    return Response(204, content_types.APPLICATION_JSON, "") if doc is None else _ok(200, doc)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
