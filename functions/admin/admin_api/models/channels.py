"""Channel bodies (``PUT /admin/channels/{channel_id}``, ``POST /admin/channels/reconcile``): the fields and
limits of ``wecom_bundle.channels.model``; the welcome is a welcome rule's content (the same models)."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from admin_api.models.common import SmallBody, Strict, chars, rules
from admin_api.models.content import MAX_ATTACHMENTS, Attachment, MessageText
from wecom_bundle import content
from wecom_bundle.channels import model

CHANNEL_ID_PATTERN = model.CHANNEL_ID_PATTERN.pattern
Name = chars(model.NAME_MAX_CHARS, min_length=1, about="Ours alone: WeCom never sees it.")
Remark = chars(model.REMARK_MAX_CHARS, about="WeCom's remark of the code.")
Userid = chars(model.USERID_MAX_CHARS, min_length=1)
TagId = Annotated[
    str,
    StringConstraints(pattern=model.TAG_ID_PATTERN.pattern),
    Field(description=f"a corp tag id (printable ASCII, at most {model.TAG_ID_MAX_CHARS} characters)"),
]


class ChannelWelcome(Strict):
    """Sent to a customer who arrives through the channel, ahead of every welcome rule: a welcome rule's
    content, with its limits and rules."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            "text,attachments: not both empty",
            f"text.content: at most {content.TEXT_MAX_BYTES} bytes with each {content.NICKNAME} counted as "
            f"{content.NICKNAME_MAX_BYTES} bytes (the longest name it is filled with)",
        )
    )
    text: MessageText | None = None
    attachments: list[Attachment] | None = Field(None, max_length=MAX_ATTACHMENTS)


class ChannelBody(Strict):
    model_config = ConfigDict(
        json_schema_extra=rules(
            "members: no userid twice",
            "tags: no tag id twice",
            "members: a code made for one member stays a one-member code, and one made for several stays "
            "a several-member code (WeCom cannot change a code's type)",
        )
    )
    name: Name  # type: ignore[valid-type]
    members: list[Userid] = Field(  # type: ignore[valid-type]
        min_length=1,
        max_length=model.MAX_MEMBERS,
        description="the members the QR code reaches: one makes a single-member code, several a multi-member one",
    )
    skip_verify: bool = Field(True, description="customers are added without the member's confirmation")
    tags: list[TagId] | None = Field(
        None,
        max_length=model.MAX_TAGS,
        description="corp tag ids put on each customer who arrives (mark_tag)",
    )
    welcome: ChannelWelcome | None = None
    remark: Remark | None = None  # type: ignore[valid-type]


class ChannelReconcile(SmallBody):
    repair: bool = Field(False, description="true: import, adopt and mark gone, not only report")
