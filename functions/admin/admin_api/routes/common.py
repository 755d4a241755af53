"""What every route answers with, and the query text check every listing shares."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel

from wecom_bundle.validation import check_text


def ok(status: int, doc: Any) -> Response:
    return Response(status, content_types.APPLICATION_JSON, json.dumps(doc, ensure_ascii=False))


def no_content() -> Response:
    return Response(204, content_types.APPLICATION_JSON, "")


def query(event: BaseProxyEvent) -> dict[str, str]:
    """Query parameters, each name and value checked as text (the value is never echoed); the models have
    checked the ones they declare, the services read them from this dict as they always have."""
    params = {str(k): str(v) for k, v in (event.query_string_parameters or {}).items()}
    for name, value in params.items():
        check_text(name, "query")
        check_text(value, name)
    return params


def as_sent(model: BaseModel | None) -> dict[str, Any] | None:
    """The validated body as the model produced it, its unset fields left out: the services take this and
    check only the rules across fields and state (they no longer re-check its shape)."""
    return None if model is None else model.model_dump(exclude_unset=True)


def success(description: str, model: type[BaseModel] | None = None) -> OpenAPIResponse:
    if model is None:
        return OpenAPIResponse(description=description)
    return OpenAPIResponse(description=description, content={"application/json": {"model": model}})
