"""Building blocks of every admin model: the strict base, UTF-8 byte-limited strings, the id patterns and
the error body.

Why bytes: WeCom counts its limits in UTF-8 bytes, so a character limit in the document would let 1 400
Chinese characters through that WeCom refuses. Each limited string is validated in bytes and documented with
``maxLength`` (the character bound that is always true: a character is at least one byte), an ``x-maxBytes``
extension and a description that says so.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from wecom_bundle.welcome import rules as welcome_rules

RULE_ID_PATTERN = welcome_rules.RULE_ID_PATTERN.pattern  # rule and campaign ids: the one pattern
NO_NUL = (
    r"^[^\x00]*$"  # check_text refuses NUL in every string (lone surrogates never pass JSON decoding here)
)


class Strict(BaseModel):
    """Unknown fields refused (``additionalProperties: false``); no coercion: ``"5"`` is not an integer and
    ``true`` is not 1, as the layer's validators have always answered. ``python-re``: the S3 key pattern
    needs look-aheads."""

    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")


class SmallBody(Strict):
    """A body of one or two optional keys (remind, reconcile): an unknown key refuses the body as a whole
    (field ``body``), as these routes always have."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, value: Any) -> Any:
        if isinstance(value, dict) and set(value) - set(cls.model_fields):
            raise PydanticCustomError(
                "unknown_key", "must be empty or have only {known}", {"known": ", ".join(cls.model_fields)}
            )
        return value


def _within_bytes(max_bytes: int, value: str) -> str:
    if len(value.encode("utf-8")) > max_bytes:
        raise PydanticCustomError(
            "string_too_many_bytes", "must be at most {max_bytes} bytes in UTF-8", {"max_bytes": max_bytes}
        )
    return value


def utf8(max_bytes: int, *, min_length: int = 0, pattern: str = NO_NUL, about: str = "") -> Any:
    """A string of at most ``max_bytes`` UTF-8 bytes, documented as such (``x-maxBytes``)."""
    description = f"{about} At most {max_bytes} bytes of UTF-8 (WeCom counts bytes).".strip()
    return Annotated[
        str,
        StringConstraints(max_length=max_bytes, min_length=min_length, pattern=pattern),
        AfterValidator(partial(_within_bytes, max_bytes)),
        Field(description=description, json_schema_extra={"x-maxBytes": max_bytes}),
    ]


def chars(max_chars: int, *, min_length: int = 0, about: str = "") -> Any:
    """A string limited in characters (our own limits and WeCom's few character-counted ones)."""
    return Annotated[
        str,
        StringConstraints(max_length=max_chars, min_length=min_length, pattern=NO_NUL),
        Field(description=f"{about} At most {max_chars} characters.".strip()),
    ]


Text = Annotated[str, StringConstraints(pattern=NO_NUL)]


def rules(*lines: str) -> dict[str, Any]:
    """A model's rules across fields, in the document (``x-rules``): the layer enforces them (a 400 naming
    one of ``fields``), the document says so, and the agreement test holds the two to it."""
    return {"x-rules": [{"fields": line.split(":")[0].split(","), "rule": line} for line in lines]}


class ErrorDetail(BaseModel):
    """What every refusal carries; ``field`` names the offending input's path, never its value."""

    code: str = Field(description="invalid_request, not_found, idempotency_conflict, wecom_unavailable ...")
    message: str
    field: str | None = Field(None, description="the input's path, e.g. attachments[0].link.url or limit")
    errcode: int | None = Field(None, description="WeCom's errcode, when WeCom refused")


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The documented refusals of a route: every one has the same shape."""
    what = {
        400: "invalid request (the field is named) or WeCom refused",
        403: "not the template's owner",
        404: "no such resource",
        409: "conflict with the current state",
        429: "too soon (WeCom's reminder cap)",
        503: "WeCom unavailable or busy, or over the time budget (over_time_budget); retry later",
    }
    return {
        status: OpenAPIResponse(description=what[status], content={"application/json": {"model": ErrorBody}})
        for status in statuses
    }
