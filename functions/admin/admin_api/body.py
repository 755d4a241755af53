"""Checks every request body gets where it enters, before any model sees it: base64 (API Gateway's encoding
of binary bodies), UTF-8, size, JSON with bounded depth, and hostile text (``check_json``: lone surrogates,
NUL, long keys). Each failure is a 400 naming ``body`` (or the path of the offending value) rather than an
exception far from here."""

from __future__ import annotations

import json
from typing import Any

from wecom_bundle import apigw
from wecom_bundle.validation import MAX_JSON_DEPTH, ValidationError, check_json

MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's own request limit; each field has its own, smaller one


def body_text(event: dict[str, Any]) -> str:
    """The request body as text, base64 and UTF-8 checked."""
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


def checked_json(event: dict[str, Any]) -> Any:
    """The parsed body (None when empty), every string in it valid text and its nesting bounded."""
    text = body_text(event)
    if not text:
        return None
    try:
        doc = json.loads(text)
    except RecursionError as exc:
        raise ValidationError("body", f"nests deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:
        raise ValidationError("body", "is not valid JSON") from exc
    return check_json(doc)
