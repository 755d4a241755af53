"""Campaign bodies (``POST /admin/campaigns``, ``.../remind``): the fields and limits of
``wecom_bundle.campaign_validation`` and ``reminder_policy`` (add_msg_template, WeCom「创建企业群发」)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from admin_api.models.common import SmallBody, Strict, Text, chars, rules, utf8
from admin_api.models.content import MAX_ATTACHMENTS, CampaignAttachment, MessageText
from wecom_bundle.campaigns import reminder_policy
from wecom_bundle.campaigns import validation as cv

Id = utf8(cv.MAX_ID_BYTES, min_length=1)
Sender = utf8(cv.SENDER_MAX_BYTES)
Name = chars(cv.MAX_NAME_CHARS)
IDEMPOTENCY_KEY_PATTERN = cv.IDEMPOTENCY_KEY.pattern


class TagGroup(Strict):
    tag_list: list[Id] = Field(min_length=1, max_length=cv.MAX_TAGS_PER_GROUP)  # type: ignore[valid-type]


class TagFilter(Strict):
    """OR within a group, AND across groups."""

    group_list: list[TagGroup] = Field(min_length=1)


class Reminders(Strict):
    """Every field optional: the default policy is first after 2 h, then every 6 h, for 3 days."""

    first_after_minutes: int | None = Field(None, ge=0, le=reminder_policy.MAX_MINUTES)
    every_minutes: int | None = Field(None, ge=1, le=reminder_policy.MAX_MINUTES)
    stop_after_hours: int | None = Field(None, ge=1, le=reminder_policy.MAX_HOURS)
    enabled: bool = True


class CampaignBody(Strict):
    model_config = ConfigDict(
        json_schema_extra=rules(
            "text,attachments: not both empty",
            "external_userid,sender,tag_filter: with chat_type single, not all empty",
            "tag_filter: not with external_userid (it would have no effect)",
            "sender: required when chat_type is group",
            "external_userid,tag_filter,allow_select: only when chat_type is single",
            "chat_id_list: only when chat_type is group",
            "send_at: epoch seconds or ISO 8601 (without an offset: WELCOME_TIMEZONE) within the next 366 days; "
            f"empty or at most {cv.SEND_AT_PAST_GRACE_S // 60} minutes past: send now; further past: refused",
            "skip_capped: only with an external_userid audience (chat_type single)",
            "skip_capped: send_at in the current period of the cap (MASS_SEND_CUSTOMER_LIMIT)",
        )
    )
    chat_type: Literal["single", "group"] | None = None
    external_userid: list[Id] | None = Field(None, max_length=cv.MAX_AUDIENCE)  # type: ignore[valid-type]
    chat_id_list: list[Id] | None = Field(None, max_length=cv.MAX_CHAT_IDS)  # type: ignore[valid-type]
    tag_filter: TagFilter | None = None
    sender: Sender | None = None  # type: ignore[valid-type]
    allow_select: bool | None = None
    text: MessageText | None = None
    attachments: list[CampaignAttachment] | None = Field(None, max_length=MAX_ATTACHMENTS)
    name: Name | None = None  # type: ignore[valid-type]
    send_at: int | float | Text | None = Field(
        None, description="epoch seconds or ISO 8601 (without an offset: in WELCOME_TIMEZONE)"
    )
    reminders: Reminders | None = None
    skip_capped: bool | None = Field(
        None,
        description="leave out the customers WeCom's per-customer cap holds back in the current period "
        "(the answer's skipped_capped counts them); refused with 409 audience_capped when all are",
    )


class RemindBody(SmallBody):
    model_config = ConfigDict(json_schema_extra=rules("msgids: each an active msgid of this campaign"))
    msgids: list[Text] | None = Field(None, description="default: every eligible msgid")


assert set(CampaignBody.model_fields) == cv.FIELDS
