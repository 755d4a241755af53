"""The API's own routes: health and this document. Answer models (see ``admin_api.models.responses``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from admin_api.models.responses.common import Answer


class Health(Answer):
    status: Literal["ok"]
    timezone: str = Field(
        description="the business time zone (WELCOME_TIMEZONE): times without an offset are read in it"
    )


class OpenApiDocument(Answer):
    """This document (OpenAPI 3.1): the parts' own schema is the OpenAPI specification's."""

    openapi: str
    info: dict[str, Any]
    servers: list[dict[str, Any]]
    paths: dict[str, Any]
    components: dict[str, Any]
