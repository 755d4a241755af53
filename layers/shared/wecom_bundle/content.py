"""Message content (text + attachments) as WeCom's send_welcome_msg / add_msg_template accept it.

Validated on write so nothing invalid ever reaches WeCom: a bad welcome rule would otherwise be found out
only when a real customer's 20-second welcome code is burned on a 4xx.
"""

from __future__ import annotations

from typing import Any

from wecom_bundle.validation import ValidationError, optional_str, reject_unknown, require_object

TEXT_MAX_BYTES = 4000
MAX_ATTACHMENTS = 9
ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")
LINK_TITLE_MAX_BYTES = 128
LINK_DESC_MAX_BYTES = 512
MINIPROGRAM_TITLE_MAX_BYTES = 64


def validate_text(value: Any, field: str = "text", max_bytes: int = TEXT_MAX_BYTES) -> dict[str, str] | None:
    """``{"content": "..."}`` or None; empty content counts as no text."""
    if value is None:
        return None
    text = require_object(value, field)
    reject_unknown(text, {"content"}, f"{field}.")
    content = optional_str(text, "content", f"{field}.content", max_bytes=max_bytes)
    return {"content": content} if content else None


def _image(obj: dict[str, Any], field: str) -> dict[str, Any]:
    reject_unknown(obj, {"media_id", "pic_url"}, f"{field}.")
    media_id = optional_str(obj, "media_id", f"{field}.media_id")
    pic_url = optional_str(obj, "pic_url", f"{field}.pic_url")
    if not media_id and not pic_url:
        raise ValidationError(f"{field}.media_id", "an image needs media_id or pic_url")
    return {k: v for k, v in (("media_id", media_id), ("pic_url", pic_url)) if v}


def _link(obj: dict[str, Any], field: str) -> dict[str, Any]:
    reject_unknown(obj, {"title", "picurl", "desc", "url"}, f"{field}.")
    out = {
        "title": optional_str(obj, "title", f"{field}.title", max_bytes=LINK_TITLE_MAX_BYTES, required=True),
        "url": optional_str(obj, "url", f"{field}.url", required=True),
        "picurl": optional_str(obj, "picurl", f"{field}.picurl"),
        "desc": optional_str(obj, "desc", f"{field}.desc", max_bytes=LINK_DESC_MAX_BYTES),
    }
    if not str(out["url"]).startswith(("http://", "https://")):
        raise ValidationError(f"{field}.url", "must be an http(s) URL")
    return {k: v for k, v in out.items() if v is not None}


def _miniprogram(obj: dict[str, Any], field: str) -> dict[str, Any]:
    reject_unknown(obj, {"title", "pic_media_id", "appid", "page"}, f"{field}.")
    return {
        "title": optional_str(
            obj, "title", f"{field}.title", max_bytes=MINIPROGRAM_TITLE_MAX_BYTES, required=True
        ),
        "pic_media_id": optional_str(obj, "pic_media_id", f"{field}.pic_media_id", required=True),
        "appid": optional_str(obj, "appid", f"{field}.appid", required=True),
        "page": optional_str(obj, "page", f"{field}.page", required=True),
    }


def _media(obj: dict[str, Any], field: str) -> dict[str, Any]:
    reject_unknown(obj, {"media_id"}, f"{field}.")
    return {"media_id": optional_str(obj, "media_id", f"{field}.media_id", required=True)}


_BUILDERS = {"image": _image, "link": _link, "miniprogram": _miniprogram, "video": _media, "file": _media}


def validate_part(msgtype: str, value: Any, field: str) -> dict[str, Any]:
    """One non-text part (the object under ``image``, ``link``, ...), normalised.

    Public because group welcome templates carry the same parts as top-level keys instead of a list:
    one validator per part type keeps the two APIs (and any new reference form) in step.
    """
    return _BUILDERS[msgtype](require_object(value, field), field)


def validate_attachment(value: Any, field: str) -> dict[str, Any]:
    attachment = require_object(value, field)
    msgtype = attachment.get("msgtype")
    if msgtype not in ATTACHMENT_TYPES:
        raise ValidationError(f"{field}.msgtype", f"must be one of {', '.join(ATTACHMENT_TYPES)}")
    reject_unknown(attachment, {"msgtype", msgtype}, f"{field}.")
    if msgtype not in attachment:
        raise ValidationError(f"{field}.{msgtype}", f"is required when msgtype is {msgtype}")
    return {"msgtype": msgtype, msgtype: validate_part(msgtype, attachment[msgtype], f"{field}.{msgtype}")}


def validate_attachments(value: Any, field: str = "attachments") -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(field, "must be a list")
    if len(value) > MAX_ATTACHMENTS:
        raise ValidationError(field, f"at most {MAX_ATTACHMENTS} attachments")
    return [validate_attachment(item, f"{field}[{i}]") for i, item in enumerate(value)]


def validate_content(doc: dict[str, Any]) -> tuple[dict[str, str] | None, list[dict[str, Any]]]:
    """The text and attachments of a message; they may not both be empty."""
    text = validate_text(doc.get("text"))
    attachments = validate_attachments(doc.get("attachments"))
    if text is None and not attachments:
        raise ValidationError("text", "text and attachments cannot both be empty")
    return text, attachments
