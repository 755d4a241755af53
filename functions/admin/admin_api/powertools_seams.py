"""Every use of Powertools' private API, in one module, each checked by ``check_seams`` (and
``tests/unit/admin/test_powertools_seams.py``), so that a Powertools upgrade that moves one fails loudly,
naming the installed version, instead of silently skipping a check.

Why the admin function needs private seams at all:
- **The body.** Powertools' request validation reads the body with its own unchecked ``json_body``; ours must
  go through ``admin_api.body.checked_json`` (base64, UTF-8, size, depth, hostile text) before any model sees
  it. The only hook is ``OpenAPIRequestValidationMiddleware._get_body``, and the only way to install the
  subclass is the resolver's ``_request_validation_middleware`` attribute (Powertools builds its own only when
  the resolver has none, ``hasattr`` in ``_build_middleware_stack``, and runs it before any user middleware).
- **Path ids.** Powertools matches routes on the payload's ``rawPath`` and hands the matched text, still
  percent-encoded, to the route in ``app.context["_route_args"]`` (``GET /admin/customers/wm%2Fp3slash`` would
  look for ``wm%2Fp3slash``). The validation middleware decodes it there before the models validate it, so
  every route receives the decoded id and its limits are measured on it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, api_gateway
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.shared.version import VERSION as POWERTOOLS_VERSION

from wecom_bundle.validation import ValidationError

ROUTE_ARGS = "_route_args"  # the context key Powertools keeps the matched path parameters under
MIDDLEWARE_ATTRIBUTE = "_request_validation_middleware"  # the resolver attribute it builds its own into
BodyReader = Callable[[dict[str, Any]], Any]  # the raw event → the parsed, checked body (None when empty)


class SeamBroken(RuntimeError):
    """A Powertools release no longer has a private seam this module relies on."""


def decoded_path_value(name: str, raw: str) -> str:
    """One path parameter as the client meant it: percent-decoded, UTF-8 (400 naming it otherwise)."""
    if "%" not in raw:
        return raw
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(name, "is not percent-encoded UTF-8") from exc


class CheckedRequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, with the path parameters decoded and the body read through the
    admin function's checks (whatever the content-type, as this API always has)."""

    def __init__(self, read_body: BodyReader) -> None:
        super().__init__()
        self._read_body = read_body

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Any:
        raw = app.context.get(ROUTE_ARGS) or {}
        app.context[ROUTE_ARGS] = {name: decoded_path_value(name, str(value)) for name, value in raw.items()}
        return super().handler(app, next_middleware)

    def _get_body(self, app: BaseRouter) -> Any:
        doc = self._read_body(app.current_event.raw_event)
        # Every admin body is an object; Powertools would take a list's first item for it.
        if doc is not None and not isinstance(doc, dict):
            raise ValidationError("body", "must be a JSON object")
        return doc


def install(app: APIGatewayHttpResolver, read_body: BodyReader) -> None:
    """Make ``app`` validate requests with ``CheckedRequestValidation`` (checked first: ``SeamBroken``)."""
    check_seams()
    setattr(app, MIDDLEWARE_ATTRIBUTE, CheckedRequestValidation(read_body))


def check_seams() -> None:
    """Raise ``SeamBroken`` naming the Powertools version when a private seam above is gone or changed."""
    problems = []
    get_body = getattr(OpenAPIRequestValidationMiddleware, "_get_body", None)
    if get_body is None or list(inspect.signature(get_body).parameters) != ["self", "app"]:
        problems.append("OpenAPIRequestValidationMiddleware._get_body(self, app) is gone or changed")
    handler_source = inspect.getsource(OpenAPIRequestValidationMiddleware.handler)
    if f'app.context["{ROUTE_ARGS}"]' not in handler_source or "self._get_body(app)" not in handler_source:
        problems.append(f"the validation handler no longer reads app.context[{ROUTE_ARGS!r}] and _get_body")
    stack_source = inspect.getsource(api_gateway.Route)
    if f"all_middlewares.append(app.{MIDDLEWARE_ATTRIBUTE})" not in stack_source:
        problems.append(f"routes no longer run the resolver's {MIDDLEWARE_ATTRIBUTE} first")
    if problems:
        raise SeamBroken(
            f"aws-lambda-powertools {POWERTOOLS_VERSION} broke the admin function's private seams "
            f"(functions/admin/admin_api/powertools_seams.py): {'; '.join(problems)}"
        )
