"""Message content (text and attachments) as welcome rules, campaigns and group templates take it: the
fields and limits of ``wecom_bundle.content`` (which still normalises it, and enforces the rules across
fields the ``x-rules`` of each model name)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import ConfigDict, StringConstraints

from admin_api.models.common import NO_NUL, Strict, Text, rules, utf8
from wecom_bundle import content as rules_of_content
from wecom_bundle.campaigns import validation as campaign_validation
from wecom_bundle.group_templates import validation as group_template_validation

# A bucket object: no leading '/', no control characters, no '.' or '..' segment: keys reach logs,
# the cache key and the upload's file name. Checked here only: the layer trusts it.
S3_KEY_PATTERN = r"^(?!/)(?!(?:.*/)?\.\.?(?:/|$))[^\x00-\x1f\x7f]+$"
HTTP_URL = r"^https?://[^\x00]*$"  # and no NUL: check_text refuses it in every string
S3Key = utf8(
    rules_of_content.S3_KEY_MAX_BYTES, min_length=1, pattern=S3_KEY_PATTERN, about="An object of the bucket."
)
CampaignUrl = utf8(campaign_validation.MAX_URL_BYTES, min_length=1, pattern=HTTP_URL)
CampaignPicurl = utf8(campaign_validation.MAX_URL_BYTES)
HttpUrl = Annotated[str, StringConstraints(min_length=1, pattern=HTTP_URL)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, pattern=NO_NUL)]
BUCKET_RULE = "s3_key,pic_s3_key: an object that exists in the media bucket (checked when the body is saved)"
MessageContent = utf8(rules_of_content.TEXT_MAX_BYTES)
TemplateContent = utf8(group_template_validation.TEXT_MAX_BYTES)
LinkTitle = utf8(rules_of_content.LINK_TITLE_MAX_BYTES, min_length=1)
LinkDesc = utf8(rules_of_content.LINK_DESC_MAX_BYTES)
MiniprogramTitle = utf8(rules_of_content.MINIPROGRAM_TITLE_MAX_BYTES, min_length=1)


class MessageText(Strict):
    """Empty or absent content counts as no text."""

    content: MessageContent | None = None  # type: ignore[valid-type]


class TemplateText(Strict):
    content: TemplateContent | None = None  # type: ignore[valid-type]


class Image(Strict):
    model_config = ConfigDict(
        json_schema_extra=rules(
            "media_id,s3_key,pic_url,pic_s3_key: at least one",
            "media_id,s3_key: not both",
            "pic_url,pic_s3_key: not both",
            BUCKET_RULE,
        )
    )
    media_id: Text | None = None
    s3_key: S3Key | None = None  # type: ignore[valid-type]
    pic_url: Text | None = None
    pic_s3_key: S3Key | None = None  # type: ignore[valid-type]


class Link(Strict):
    title: LinkTitle  # type: ignore[valid-type]
    url: HttpUrl
    picurl: Text | None = None
    desc: LinkDesc | None = None  # type: ignore[valid-type]


class Miniprogram(Strict):
    model_config = ConfigDict(
        json_schema_extra=rules(
            "pic_media_id,pic_s3_key: exactly one", "pic_s3_key: " + BUCKET_RULE.split(": ")[1]
        )
    )
    title: MiniprogramTitle  # type: ignore[valid-type]
    pic_media_id: Text | None = None
    pic_s3_key: S3Key | None = None  # type: ignore[valid-type]
    appid: NonEmpty
    page: NonEmpty


class Media(Strict):
    """A video or a file: a WeCom media_id, or an object of the bucket uploaded when sent."""

    model_config = ConfigDict(json_schema_extra=rules("media_id,s3_key: exactly one", BUCKET_RULE))
    media_id: Text | None = None
    s3_key: S3Key | None = None  # type: ignore[valid-type]


class Attachment(Strict):
    model_config = ConfigDict(
        json_schema_extra=rules("image,link,miniprogram,video,file: exactly the part msgtype names, no other")
    )
    msgtype: Literal["image", "link", "miniprogram", "video", "file"]
    image: Image | None = None
    link: Link | None = None
    miniprogram: Miniprogram | None = None
    video: Media | None = None
    file: Media | None = None


class CampaignLink(Link):
    """A campaign's link: add_msg_template caps url and picurl at 2048 bytes (WeCom「创建企业群发」)."""

    url: CampaignUrl  # type: ignore[valid-type]
    picurl: CampaignPicurl | None = None  # type: ignore[valid-type]


class CampaignAttachment(Attachment):
    link: CampaignLink | None = None


MAX_ATTACHMENTS = rules_of_content.MAX_ATTACHMENTS
# The Literal spells the types out for the type checker; they must be the layer's, in its order.
assert get_args(Attachment.model_fields["msgtype"].annotation) == rules_of_content.ATTACHMENT_TYPES
