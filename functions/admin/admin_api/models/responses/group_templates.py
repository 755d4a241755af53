"""Group welcome templates and their drift report. Answer models (see ``admin_api.models.responses``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from admin_api.models.content import (
    Image,
    Link,
    Media,
    Miniprogram,
    TemplateText,
)
from admin_api.models.responses.common import Answer, Epoch


class HeldMedia(Answer):
    media_id: str
    uploaded_at: Epoch


class MediaRefreshError(Answer):
    """Why the media refresh left this template alone (it holds an id that expires)."""

    errcode: int
    reason: Literal["not_owned", "gone"]
    at: Epoch


class Template(Answer):
    """A group welcome template: its content parts at the top level (like WeCom's answer), then the mirror's
    metadata; ``mirrored`` false when the mirror write failed or the template is only WeCom's."""

    template_id: str
    text: TemplateText | None = None
    image: Image | None = None
    link: Link | None = None
    miniprogram: Miniprogram | None = None
    file: Media | None = None
    video: Media | None = None
    notify: int | None = None
    agentid: int | None = None
    origin: Literal["admin_api", "adopted"] | None = None
    created_by_app: bool | None = None
    created_at_ms: int | None = None
    updated_at_ms: int | None = None
    wecom_media: dict[str, HeldMedia] | None = Field(
        None, description="per bucket reference (kind:s3_key), the media id WeCom holds for it"
    )
    media_refreshed_at_ms: int | None = None
    media_refresh_error: MediaRefreshError | None = None
    mirrored: bool
    warnings: list[str] | None = Field(None, description="create and edit only")
    wecom: dict[str, Any] | None = Field(None, description="GET: WeCom's content, as WeCom answers it")
    in_sync: bool | None = Field(None, description="GET: whether WeCom's content matches the mirror's")


class TemplateList(Answer):
    items: list[Template]
    count: int
    limit: int = Field(description="WeCom's cap per corp")


class TemplateDeleted(Answer):
    """Deleted in WeCom, but the mirror write failed (reconcile repairs it)."""

    template_id: str
    deleted: Literal[True]
    mirrored: Literal[False]
    warnings: list[str]


class Checked(Answer):
    templates: int
    intents: int


class Drift(Answer):
    kind: Literal[
        "missing_in_wecom", "content_differs", "missing_in_mirror", "add_not_in_wecom", "add_unconfirmed"
    ]
    template_id: str | None
    intent_id: str | None = None
    mirror: dict[str, Any] | None = Field(None, description="the mirror's (or the add intent's) content")
    wecom: dict[str, Any] | None = Field(None, description="WeCom's content")
    repaired: bool | None = None
    repair: str | None = Field(None, description="what the repair does")


class Unchecked(Answer):
    template_id: str
    reason: str
    errcode: int | None = None


class DriftReport(Answer):
    checked: Checked
    in_sync: bool
    drift: list[Drift]
    unchecked: list[Unchecked]
    in_flight: int = Field(description="adds younger than a minute, still waiting for WeCom's answer")
    repair: bool
