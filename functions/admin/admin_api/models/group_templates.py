"""Group welcome template bodies (``group_welcome_template/add|edit``, WeCom「入群欢迎语素材管理」): the fields and limits of
``wecom_bundle.group_template_validation``."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from admin_api.models.common import SmallBody, Strict, rules
from admin_api.models.content import Image, Link, Media, Miniprogram, TemplateText
from wecom_bundle.group_templates import validation as gtv

_RULES = rules(
    f"{','.join(gtv.PARTS)}: at most one (WeCom would keep only the first of {' > '.join(gtv.PARTS)})",
    f"text,{','.join(gtv.PARTS)}: not all empty",
)


class TemplateEdit(Strict):
    """``PUT``: WeCom's edit takes no ``notify``."""

    model_config = ConfigDict(json_schema_extra=_RULES)
    text: TemplateText | None = None
    image: Image | None = None
    link: Link | None = None
    miniprogram: Miniprogram | None = None
    file: Media | None = None
    video: Media | None = None
    agentid: int | None = Field(None, ge=1)


class TemplateCreate(TemplateEdit):
    notify: int | None = Field(None, ge=0, le=1, description="1: tell the members (creation only)")


class Reconcile(SmallBody):
    repair: bool = Field(False, description="true: repair the drift found, not only report it")


TEMPLATE_ID_MAX = gtv.TEMPLATE_ID_MAX
assert set(gtv.PARTS) <= set(TemplateEdit.model_fields)
