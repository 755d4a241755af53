"""The Powertools private seams of ``admin_api.powertools_seams`` still hold in the installed Powertools.

Why a behaviour test beside ``check_seams``: a release could keep the names and stop calling them. Each
failure names the Powertools version, so an upgrade that breaks a seam says so at once.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel

from local.events import http_event
from wecom_bundle.domain_errors import DomainError


def _adapter() -> ModuleType:
    """The adapter module from the admin function's code (it imports nothing of its siblings)."""
    source = Path(__file__).resolve().parents[3] / "functions" / "admin" / "admin_api" / "powertools_seams.py"
    spec = importlib.util.spec_from_file_location("admin_powertools_seams_under_test", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


powertools_seams = _adapter()
POWERTOOLS_VERSION = powertools_seams.POWERTOOLS_VERSION
SeamBroken = powertools_seams.SeamBroken
check_seams = powertools_seams.check_seams
BROKEN = f"aws-lambda-powertools {POWERTOOLS_VERSION} broke a private seam the admin function relies on"


class Thing(BaseModel):
    name: str


def _resolver(bodies: list[dict[str, Any]]) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    def read_body(event: dict[str, Any]) -> Any:
        bodies.append(event)
        return json.loads(event["body"])

    powertools_seams.install(app, read_body)

    @app.put("/things/<thing_id>")
    def put_thing(thing_id: str, body: Annotated[Thing, Body()]) -> Any:
        return Response(200, content_types.APPLICATION_JSON, json.dumps({"id": thing_id, "name": body.name}))

    @app.exception_handler(DomainError)
    def refused(exc: DomainError) -> Response:
        return Response(
            400, content_types.APPLICATION_JSON, json.dumps({"field": getattr(exc, "field", None)})
        )

    return app


def _put(app: APIGatewayHttpResolver, raw_path: str) -> tuple[int, Any]:
    event = http_event("PUT", raw_path, None, json.dumps({"name": "n"}), {"content-type": "application/json"})
    answer = app.resolve(event, None)
    return answer["statusCode"], json.loads(answer["body"])


def test_the_seams_are_where_the_adapter_expects_them() -> None:
    try:
        check_seams()
    except SeamBroken as exc:
        pytest.fail(str(exc))


def test_the_body_goes_through_our_reader_and_the_path_id_arrives_decoded() -> None:
    bodies: list[dict[str, Any]] = []
    status, answer = _put(_resolver(bodies), "/things/a%2Fb%20%E9%A1%BE")
    assert len(bodies) == 1, f"{BROKEN}: the request body no longer goes through _get_body"
    assert (status, answer) == (200, {"id": "a/b 顾", "name": "n"}), (
        f"{BROKEN}: path parameters are no longer decoded through app.context['_route_args']"
    )


def test_a_path_id_that_is_not_utf8_is_a_refusal_naming_it() -> None:
    assert _put(_resolver([]), "/things/a%FF") == (400, {"field": "thing_id"})


def test_a_missing_seam_fails_loudly_naming_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(OpenAPIRequestValidationMiddleware, "_get_body")
    with pytest.raises(SeamBroken, match=f"aws-lambda-powertools {POWERTOOLS_VERSION}.*_get_body"):
        check_seams()
