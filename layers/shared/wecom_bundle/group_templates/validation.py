"""Validation of group welcome template bodies (``group_welcome_template/add|edit``, WeCom「入群欢迎语素材管理」).

Why refuse instead of forwarding: WeCom accepts several non-text parts and silently keeps only the one with the
highest priority, and it leaves a wrongly-cased ``%nickname%`` as literal text in front of customers. Both are
mistakes an operator only finds out about from a customer's screen, so they are caught here, before WeCom sees
anything. The parts themselves use the same validators as welcome rules and campaigns (``content.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wecom_bundle.content import text_of, validate_part
from wecom_bundle.validation import ValidationError

TEXT_MAX_BYTES = 3000
PARTS = ("image", "link", "miniprogram", "file", "video")  # WeCom's priority order (the first one wins)
NICKNAME = "%NICKNAME%"
_NICKNAME_ANY_CASE = re.compile(re.escape(NICKNAME), re.IGNORECASE)
TEMPLATE_ID_MAX = 128


@dataclass(frozen=True)
class TemplateInput:
    """A validated body: what goes to WeCom (``content`` + ``notify``/``agentid``) and what to tell the caller."""

    content: dict[str, Any]
    notify: int | None
    agentid: int | None
    warnings: list[str]


def validate_template_content(body: dict[str, Any]) -> dict[str, Any]:
    """Text and at most one non-text part; not all empty (the text's 3 000 bytes: the admin model).

    The one place that decides what a template's content may be: a new reference form for media (e.g. a
    file in S3) plugs into ``content.validate_part`` and is then accepted here too.
    """
    content: dict[str, Any] = {}
    text = text_of(body.get("text"))
    if text is not None:
        content["text"] = text
    present = [part for part in PARTS if body.get(part) is not None]
    if len(present) > 1:
        raise ValidationError(
            present[1],
            f"a template takes at most one of {', '.join(PARTS)}; with {' and '.join(present)} WeCom would "
            f"silently keep only {present[0]} (priority image > link > miniprogram > file > video) "
            f"and drop {', '.join(present[1:])}",
        )
    for part in present:
        content[part] = validate_part(part, body[part], part)
    if not content:
        raise ValidationError("text", f"text, {', '.join(PARTS)} cannot all be empty")
    return content


def nickname_warnings(content: dict[str, Any]) -> list[str]:
    """A placeholder spelled in any other case than %NICKNAME% is sent to customers as literal text."""
    text = (content.get("text") or {}).get("content") or ""
    wrong = sorted({m for m in _NICKNAME_ANY_CASE.findall(text) if m != NICKNAME})
    return [
        f"text.content: {spelling} is not replaced by the customer's nickname: the placeholder is "
        f"case-sensitive, write {NICKNAME}"
        for spelling in wrong
    ]


def parse_template(body: dict[str, Any], *, creating: bool) -> TemplateInput:
    """A create (POST) or edit (PUT) body as the admin model validated it (known keys, ``notify`` only at
    creation, ranges): the content's rules across parts, the values WeCom takes, the warnings."""
    content = validate_template_content(body)
    notify = body.get("notify") if creating else None
    return TemplateInput(content, notify, body.get("agentid"), nickname_warnings(content))


def validate_template_id(raw: str) -> str:
    """Template ids are WeCom's (``msg...``); refuse anything that could not be one before calling WeCom."""
    if not raw or len(raw) > TEMPLATE_ID_MAX or not raw.isascii() or not raw.isprintable() or "/" in raw:
        raise ValidationError("template_id", f"must be 1 to {TEMPLATE_ID_MAX} printable ASCII characters")
    return raw
