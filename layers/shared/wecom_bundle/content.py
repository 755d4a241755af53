"""Message content (text + attachments) as WeCom's send_welcome_msg / add_msg_template accept it.

Validated on write (the shapes and limits by the admin models where a body enters, the rules across
fields here) so nothing invalid ever reaches WeCom: a bad welcome rule would otherwise be found out
only when a real customer's 20-second welcome code is burned on a 4xx.

Attachments that never expire: where WeCom takes a temporary ``media_id`` (image, video, file, miniprogram
``pic_media_id``) the content may instead name an object of the bundle's bucket (``s3_key`` /
``pic_s3_key``), and an image's ``pic_url`` may be ``pic_s3_key`` (uploaded once with ``media/uploadimg``:
a permanent URL). ``wecom_bundle.media.cache`` turns those references into WeCom ids when a message is sent.
"""

from __future__ import annotations

from typing import Any

from wecom_bundle.validation import ValidationError

S3_KEY_MAX_BYTES = 1024

TEXT_MAX_BYTES = 4000
NICKNAME = "%NICKNAME%"  # case-sensitive placeholder of 1:1 welcome texts, filled with the customer's name
# The longest name a %NICKNAME% is filled with: a WeChat nickname is at most 32 characters, each at most
# 4 bytes in UTF-8 (emoji). Rules are validated as if every placeholder took this much; a longer name (or a
# rule stored before this check) is shortened when the welcome is sent, so the text never exceeds WeCom's
# limit (45002) and the customer is welcomed all the same.
NICKNAME_MAX_BYTES = 128
NEAR_LIMIT_BYTES = 3600  # the admin API warns above this (worst case): little room left for edits
ELLIPSIS = "\u2026"
MAX_ATTACHMENTS = 9
ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")
LINK_TITLE_MAX_BYTES = 128
LINK_DESC_MAX_BYTES = 512
MINIPROGRAM_TITLE_MAX_BYTES = 64


def text_of(value: dict[str, Any] | None) -> dict[str, str] | None:
    """``{"content": "..."}`` or None: empty or absent content counts as no text. The admin models have
    checked the shape and the byte limit where the body entered."""
    content = (value or {}).get("content")
    return {"content": content} if content else None


def _one_of(obj: dict[str, Any], field: str, id_key: str, ref_key: str, *, required: bool) -> dict[str, str]:
    """Exactly one of a WeCom id (``id_key``) and a bucket reference (``ref_key``): a rule across fields."""
    present = {key: obj[key] for key in (id_key, ref_key) if obj.get(key)}
    if len(present) > 1:
        raise ValidationError(f"{field}.{ref_key}", f"give {id_key} or {ref_key}, not both")
    if required and not present:
        raise ValidationError(f"{field}.{id_key}", f"{id_key} or {ref_key} is required")
    return present


def _image(obj: dict[str, Any], field: str) -> dict[str, Any]:
    out = {
        **_one_of(obj, field, "media_id", "s3_key", required=False),
        **_one_of(obj, field, "pic_url", "pic_s3_key", required=False),
    }
    if not out:
        raise ValidationError(f"{field}.media_id", "an image needs media_id, s3_key, pic_url or pic_s3_key")
    return out


def _link(obj: dict[str, Any], _field: str) -> dict[str, Any]:
    """A link has no media to name (``_field``: the signature every part builder shares)."""
    return {key: obj[key] for key in ("title", "url", "picurl", "desc") if obj.get(key) is not None}


def _miniprogram(obj: dict[str, Any], field: str) -> dict[str, Any]:
    return {
        "title": obj["title"],
        **_one_of(obj, field, "pic_media_id", "pic_s3_key", required=True),
        "appid": obj["appid"],
        "page": obj["page"],
    }


def _media(obj: dict[str, Any], field: str) -> dict[str, Any]:
    return _one_of(obj, field, "media_id", "s3_key", required=True)


_BUILDERS = {"image": _image, "link": _link, "miniprogram": _miniprogram, "video": _media, "file": _media}


def validate_part(msgtype: str, value: dict[str, Any], field: str) -> dict[str, Any]:
    """One non-text part (the object under ``image``, ``link``, ...), normalised, with its rules across
    fields (one of an id and a bucket reference); its shape was checked by the admin model.

    Public because group welcome templates carry the same parts as top-level keys instead of a list:
    one validator per part type keeps the two APIs (and any new reference form) in step.
    """
    return _BUILDERS[msgtype](value, field)


def validate_attachment(attachment: dict[str, Any], field: str) -> dict[str, Any]:
    """Exactly the part ``msgtype`` names, no other (the model allows every part, each optional)."""
    msgtype = attachment["msgtype"]
    for key in attachment:
        if key not in ("msgtype", msgtype):
            raise ValidationError(f"{field}.{key}", "is not a known field")
    if attachment.get(msgtype) is None:
        raise ValidationError(f"{field}.{msgtype}", f"is required when msgtype is {msgtype}")
    return {"msgtype": msgtype, msgtype: validate_part(msgtype, attachment[msgtype], f"{field}.{msgtype}")}


def validate_attachments(
    value: list[dict[str, Any]] | None, field: str = "attachments"
) -> list[dict[str, Any]]:
    return [validate_attachment(item, f"{field}[{i}]") for i, item in enumerate(value or [])]


def validate_content(doc: dict[str, Any]) -> tuple[dict[str, str] | None, list[dict[str, Any]]]:
    """The text and attachments of a message; they may not both be empty."""
    text = text_of(doc.get("text"))
    attachments = validate_attachments(doc.get("attachments"))
    if text is None and not attachments:
        raise ValidationError("text", "text and attachments cannot both be empty")
    return text, attachments


# ------------------------------------------------------------------------------------------------ nickname
def worst_case_bytes(content: str) -> int:
    """UTF-8 size of ``content`` once every %NICKNAME% holds a name of NICKNAME_MAX_BYTES."""
    count = content.count(NICKNAME)
    return len(content.encode("utf-8")) + count * (NICKNAME_MAX_BYTES - len(NICKNAME))


def check_nickname_room(content: str, field: str) -> list[dict[str, str]]:
    """Refuse a welcome text that the longest name would push past TEXT_MAX_BYTES; answer the warnings for
    one that is close (the admin API returns them with the saved rule)."""
    worst = worst_case_bytes(content)
    if worst > TEXT_MAX_BYTES and NICKNAME in content:
        raise ValidationError(
            field,
            f"must be at most {TEXT_MAX_BYTES} bytes in UTF-8 with each {NICKNAME} counted as "
            f"{NICKNAME_MAX_BYTES} bytes (the longest name it is filled with)",
        )
    if worst > NEAR_LIMIT_BYTES:
        return [
            {
                "field": field,
                "code": "near_text_limit",
                "message": f"{worst} of {TEXT_MAX_BYTES} bytes with the longest name: little room left",
            }
        ]
    return []


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` within ``max_bytes`` in UTF-8, cut between characters."""
    raw = text.encode("utf-8")
    return text if len(raw) <= max_bytes else raw[: max(0, max_bytes)].decode("utf-8", "ignore")


def fit_nickname(content: str, name: str) -> str | None:
    """``name`` as it can fill every %NICKNAME% of ``content`` within TEXT_MAX_BYTES: whole, shortened with
    an ellipsis, or None (no room: send the text without it)."""
    count = content.count(NICKNAME)
    if not count:
        return name
    name = _truncate_utf8(name, NICKNAME_MAX_BYTES)
    room = (TEXT_MAX_BYTES - (len(content.encode("utf-8")) - count * len(NICKNAME))) // count
    if len(name.encode("utf-8")) <= room:
        return name
    shortened = _truncate_utf8(name, room - len(ELLIPSIS.encode("utf-8")))
    return shortened + ELLIPSIS if shortened else None
