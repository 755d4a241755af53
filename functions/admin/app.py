"""AdminFunction: the operators' JSON API (IAM-signed when deployed, open on loopback locally).

Routes live per domain in ``admin_api.routes`` on Powertools' resolver with validation on: each parses its
input with a pydantic model (``admin_api.models``), calls one layer service and shapes the answer. Every
error leaves as ``{"error": {"code", "message"[, "field"][, "errcode"]}}``: a model's refusal through
``admin_api.errors`` (400 ``invalid_request`` naming the field), a service's domain error with the status
``refusals.STATUS_AND_CODE`` gives it (the services themselves know nothing of HTTP). The OpenAPI document is
generated from the same models, so the two cannot disagree.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from admin_api import errors, powertools_seams
from admin_api.body import checked_json
from admin_api.document import generate
from admin_api.models.responses import Health, OpenApiDocument
from admin_api.routes import campaigns, channels, customers, doctor, group_templates, welcome
from admin_api.routes.common import ok, success
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from refusals import error_answer

from wecom_bundle import config
from wecom_bundle.domain_errors import DomainError

logger = Logger()
app = APIGatewayHttpResolver(enable_validation=True)
# Request validation with every body checked (admin_api.body) and path ids decoded: the one private seam,
# kept and checked in admin_api.powertools_seams.
powertools_seams.install(app, checked_json)
for domain in (welcome, campaigns, group_templates, customers, channels, doctor):
    app.include_router(domain.router)


def _json(status: int, doc: Any) -> Response:
    return Response(status, content_types.APPLICATION_JSON, json.dumps(doc))


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response:
    """A model refused the request: the contract's 400 naming the field (never Powertools' 422)."""
    return _json(400, errors.refusal(exc.errors()))


@app.exception_handler(DomainError)
def _refused(exc: DomainError) -> Response:
    """Every domain error, through the one table (``refusals.py``)."""
    status, doc = error_answer(exc)
    return _json(status, doc)


@app.not_found
def _no_route(_exc: Exception) -> Response:
    return _json(404, {"error": {"code": "not_found", "message": "no such route"}})


@app.get("/admin/health", responses={200: success("the function answers", Health)})
def health():  # type: ignore[no-untyped-def]  # a route: no return annotation (pyproject, mypy overrides)
    """Also names the business time zone: clients print times in it (``wecomctl``), the one the stack reads
    times without an offset in, so a client never has to guess the deployed stack's setting."""
    return ok(200, {"status": "ok", "timezone": config.business_zone().key})


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document of every route, generated from the models (once per container)."""
    return generate(app)


@app.get("/admin/openapi.json", responses={200: success("this document", OpenApiDocument)})
def openapi_document():  # type: ignore[no-untyped-def]  # a route: no return annotation (pyproject)
    return ok(200, document())


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(without_empty_query_values(event), context)


def without_empty_query_values(event: dict[str, Any]) -> dict[str, Any]:
    """``?limit=&status=`` has always meant "not given" to the services; the models see it the same way
    (an int or enum parameter would otherwise refuse the empty string)."""
    params = event.get("queryStringParameters") or {}
    if all(params.values()):
        return event
    kept = {name: value for name, value in params.items() if value}
    raw = "&".join(
        part for part in str(event.get("rawQueryString") or "").split("&") if not part.endswith("=")
    )
    return {**event, "queryStringParameters": kept or None, "rawQueryString": raw}
