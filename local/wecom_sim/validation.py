"""Message content rules shared by send_welcome_msg, add_msg_template and the group welcome templates.

Why one module: the three APIs take the same attachment shapes (image/link/miniprogram/video/file) with the
same required fields and byte limits (seeds 000, 001, 004); a product bug in building them must fail the same
way everywhere, before anything is consumed (a welcome code, a template slot).
Limits are in UTF-8 *bytes*, as WeCom counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import errors
from .errors import WeComError
from .state import SimulatorState

MESSAGE_TEXT_LIMIT = 4000  # send_welcome_msg, add_msg_template
TEMPLATE_TEXT_LIMIT = 3000  # group_welcome_template
MAX_ATTACHMENTS = 9
ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")
# Group welcome templates keep one non-text part; WeCom silently drops the others in this order.
TEMPLATE_PRIORITY = ("image", "link", "miniprogram", "file", "video")
LINK_TITLE_LIMIT = 128
LINK_DESC_LIMIT = 512
URL_LIMIT = 2048
MINIPROGRAM_TITLE_LIMIT = 64


def byte_len(value: str) -> int:
    return len(value.encode("utf-8"))


def _str_field(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WeComError(errors.INVALID_PARAMETER, f"{where}.{key} must be a string")
    return value


def _required(obj: dict[str, Any], key: str, where: str, errcode: int) -> str:
    value = _str_field(obj, key, where)
    if not value:
        raise WeComError(errcode, f"{where}.{key} is required")
    return value


def _max_bytes(value: str, limit: int, where: str, errcode: int = errors.INVALID_PARAMETER) -> None:
    if byte_len(value) > limit:
        raise WeComError(errcode, f"{where} exceeds {limit} bytes")


def require_media(state: SimulatorState, media_id: str, kind: str, where: str) -> None:
    """A temporary media id must exist, be younger than 3 days (sim clock) and be of the right type: 40007."""
    media = state.media.get(media_id)
    if media is None:
        raise WeComError(errors.INVALID_MEDIA_ID, f"{where}: unknown media_id")
    if state.now() >= media.created_at + state.config.media_ttl:
        raise WeComError(errors.INVALID_MEDIA_ID, f"{where}: media_id expired (temporary media live 3 days)")
    if media.type != kind:
        raise WeComError(errors.INVALID_MEDIA_ID, f"{where}: media_id is a {media.type}, not a {kind}")


def _image(state: SimulatorState, obj: dict[str, Any], where: str) -> None:
    media_id = _str_field(obj, "media_id", where)
    pic_url = _str_field(obj, "pic_url", where)
    if media_id:  # both given: WeCom uses media_id
        require_media(state, media_id, "image", f"{where}.media_id")
    elif not pic_url:
        raise WeComError(errors.MISSING_MEDIA_ID, f"{where} needs media_id or pic_url")


def _link(state: SimulatorState, obj: dict[str, Any], where: str) -> None:
    _max_bytes(_required(obj, "title", where, errors.MISSING_TITLE), LINK_TITLE_LIMIT, f"{where}.title")
    _max_bytes(_required(obj, "url", where, errors.MISSING_URL), URL_LIMIT, f"{where}.url")
    _max_bytes(_str_field(obj, "desc", where), LINK_DESC_LIMIT, f"{where}.desc")
    _max_bytes(_str_field(obj, "picurl", where), URL_LIMIT, f"{where}.picurl")


def _miniprogram(state: SimulatorState, obj: dict[str, Any], where: str) -> None:
    title = _required(obj, "title", where, errors.MISSING_TITLE)
    _max_bytes(title, MINIPROGRAM_TITLE_LIMIT, f"{where}.title")
    pic = _required(obj, "pic_media_id", where, errors.MISSING_MEDIA_ID)
    _required(obj, "appid", where, errors.MISSING_MINIPROGRAM_APPID)
    _required(obj, "page", where, errors.INVALID_PARAMETER)
    require_media(state, pic, "image", f"{where}.pic_media_id")


def _media_kind(kind: str) -> Callable[[SimulatorState, dict[str, Any], str], None]:
    def check(state: SimulatorState, obj: dict[str, Any], where: str) -> None:
        require_media(
            state, _required(obj, "media_id", where, errors.MISSING_MEDIA_ID), kind, f"{where}.media_id"
        )

    return check


_PART_CHECKS: dict[str, Callable[[SimulatorState, dict[str, Any], str], None]] = {
    "image": _image,
    "link": _link,
    "miniprogram": _miniprogram,
    "video": _media_kind("video"),
    "file": _media_kind("file"),
}


def check_part(state: SimulatorState, kind: str, obj: Any, where: str) -> None:
    """Validate one image/link/miniprogram/video/file object."""
    if not isinstance(obj, dict):
        raise WeComError(errors.INVALID_PARAMETER, f"{where} must be an object")
    _PART_CHECKS[kind](state, obj, where)


def text_content(body: dict[str, Any], limit: int) -> str:
    """``text.content`` ("" when absent), refused beyond ``limit`` bytes with 45002."""
    text = body.get("text")
    if text is None:
        return ""
    if not isinstance(text, dict):
        raise WeComError(errors.INVALID_PARAMETER, "text must be an object")
    content = _str_field(text, "content", "text")
    _max_bytes(content, limit, "text.content", errors.CONTENT_TOO_LONG)
    return content


def check_attachments(state: SimulatorState, body: dict[str, Any]) -> list[dict[str, Any]]:
    """``attachments``: a list of at most 9, each with a known msgtype and the matching, valid object."""
    attachments = body.get("attachments")
    if attachments is None:
        return []
    if not isinstance(attachments, list):
        raise WeComError(errors.INVALID_PARAMETER, "attachments must be a list")
    if len(attachments) > MAX_ATTACHMENTS:
        raise WeComError(errors.INVALID_PARAMETER, f"at most {MAX_ATTACHMENTS} attachments")
    for index, item in enumerate(attachments):
        where = f"attachments[{index}]"
        if not isinstance(item, dict):
            raise WeComError(errors.INVALID_PARAMETER, f"{where} must be an object")
        msgtype = item.get("msgtype")
        if msgtype not in ATTACHMENT_TYPES:
            raise WeComError(errors.INVALID_ATTACHMENT_TYPE, f"{where}.msgtype {msgtype!r}")
        check_part(state, msgtype, item.get(msgtype), f"{where}.{msgtype}")
    return attachments


def check_message(state: SimulatorState, body: dict[str, Any]) -> None:
    """The send_welcome_msg / add_msg_template content: text ≤ 4000 bytes, attachments, not both empty."""
    content = text_content(body, MESSAGE_TEXT_LIMIT)
    attachments = check_attachments(state, body)
    if not content and not attachments:
        raise WeComError(errors.EMPTY_CONTENT, "text and attachments cannot both be empty")


def template_content(state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """Normalize group-welcome-template content the way WeCom stores it (WeCom「入群欢迎语素材管理」).

    Text ≤ 3000 bytes; of the non-text parts only the highest-priority one is kept (and validated), the rest
    are dropped silently; all empty is refused.
    """
    stored: dict[str, Any] = {}
    content = text_content(body, TEMPLATE_TEXT_LIMIT)
    if content:
        stored["text"] = {"content": content}
    kind = next((k for k in TEMPLATE_PRIORITY if body.get(k)), None)
    if kind is not None:
        check_part(state, kind, body[kind], kind)
        stored[kind] = dict(body[kind])
    if not stored:
        raise WeComError(errors.EMPTY_CONTENT, "text, image, link, miniprogram, file and video are all empty")
    return stored
