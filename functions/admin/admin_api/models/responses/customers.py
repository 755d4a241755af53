"""A customer's history and quota. Answer models (see ``admin_api.models.responses``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from admin_api.models.responses.common import Answer, Cursor, Epoch
from admin_api.models.responses.welcome import Welcome


class CustomerMessage(Answer):
    """One synced send-result row of the customer (any mass-send task: ours, admin-console, member)."""

    campaign_id: str | None = Field(description="the campaign (an outside task's is ext-…)")
    msgid: str
    userid: str = Field(description="the member who sends it")
    status: Literal["sent", "unsent", "not_friend", "limit_reached"]
    send_time: Epoch | None = Field(description="when it was sent (null unless sent)")
    chat_type: Literal["single"]


class CustomerQuota(Answer):
    """WeCom's per-customer mass-send cap in the current period (MASS_SEND_CUSTOMER_LIMIT)."""

    rule: Literal["month", "week", "day"]
    limit: int = Field(description="N: days in the month, 7 a week or 1 a day")
    period: str = Field(description="2026-12, 2026-W49 or 2026-12-05 (WELCOME_TIMEZONE)")
    received: int = Field(description="synced rows with status sent in the period")
    pending: int = Field(description="unsent rows of tasks still synced")
    remaining: int = Field(description="max(0, limit - received)")
    capped: bool = Field(description="received >= limit, or a limit_reached row in the period")


class CustomerView(Answer):
    external_userid: str
    welcomes: list[Welcome] = Field(description="the newest 100, newest first")
    mass_messages: list[CustomerMessage] = Field(description="a page, newest first")
    cursor: str | None = Cursor
    quota: CustomerQuota
