"""The admin API's success answers, as the layer services build them today (documentation only).

Why these exist: the generated document shows each answer's shape, and ``tests/unit/admin/test_responses.py``
validates every real answer against the model documented for its status, so the document cannot drift from
the services. The routes carry no return annotation: Powertools would re-validate and re-serialise every
answer; the answers stay the services' own JSON.

Conventions: a key the service always writes is required (``X | None`` without default when it may be
null); a key it writes only sometimes has a default. Unknown keys are refused (``extra="forbid"``): an
undocumented key fails the test. Only WeCom's own content (``wecom``, a drift's copies) is
open-ended.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from admin_api.models.campaigns import Reminders, TagFilter
from admin_api.models.content import (
    Attachment,
    CampaignAttachment,
    Image,
    Link,
    Media,
    MessageText,
    Miniprogram,
    TemplateText,
)
from admin_api.models.welcome import Match
from wecom_bundle.campaigns import cap, queries
from wecom_bundle.result_sync import totals

CampaignStatus = Literal[queries.STATUSES]  # type: ignore[valid-type]
ResultStatus = Literal[tuple(totals.STATUS_NAMES.values())]  # type: ignore[valid-type]
Epoch = Annotated[int, Field(description="epoch seconds")]
WelcomeOutcome = Literal["sent", "already_sent", "expired", "failed", "no_rule"]
Cursor = Field(description="the next page's cursor; null on the last page")


class Answer(BaseModel):
    """An answer's object: every key documented, none other (strict: a number is a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# ------------------------------------------------------------------------------------------- welcome
class Rule(Answer):
    """A stored welcome rule: the PUT body normalised (defaults filled, empty parts dropped)."""

    rule_id: str
    priority: int
    match: Match = Field(description="{} for a default rule")
    attachments: list[Attachment]
    updated_at_ms: int
    text: MessageText | None = None
    description: str | None = None


class SavedRule(Rule):
    warnings: list[str] = Field(description="things that are allowed but probably not meant; [] when none")


class RuleList(Answer):
    items: list[Rule]


class Welcome(Answer):
    """One welcome of the log: one add-contact event and its outcome (claims in flight are not listed)."""

    external_userid: str
    userid: str
    state: str = Field(description="the contact way's state; empty when none")
    create_time: Epoch
    outcome: WelcomeOutcome
    rule_id: str | None = Field(description="the rule that was sent (null when none matched)")
    errcode: int | None = Field(description="WeCom's errcode of the last attempt, when it failed")
    attempts: int
    first_error: str | None = Field(description="what the first attempt got, when it failed")
    latency_ms: int | None
    recorded_at_ms: int


class WelcomePage(Answer):
    items: list[Welcome]
    cursor: str | None = Cursor


# ----------------------------------------------------------------------------------------- customers
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


# ----------------------------------------------------------------------------------------- campaigns
class MemberTotals(Answer):
    sent: int
    unsent: int


class CustomerTotals(Answer):
    unsent: int
    sent: int
    not_friend: int
    limit_reached: int


class Totals(Answer):
    members: MemberTotals
    customers: CustomerTotals


class CampaignSummary(Answer):
    """A campaign as listed (``GET /admin/campaigns``)."""

    campaign_id: str
    name: str | None
    status: CampaignStatus
    origin: Literal["admin_api", "admin_console", "member"] | None = Field(
        description="admin_api: created here; admin_console or member: found by the result sync"
    )
    chat_type: Literal["single", "group"] | None
    created_at: Epoch | None
    send_at: Epoch | None
    sent_at: Epoch | None
    cancelled_at: Epoch | None
    audience_size: int
    msgid_count: int
    fail_list_size: int
    totals: Totals
    totals_synced_at: Epoch | None
    errcode: int | None = Field(None, description="WeCom's refusal of a failed campaign")
    errmsg: str | None = None


class CampaignPage(Answer):
    items: list[CampaignSummary]
    cursor: str | None = Cursor


class Chunk(Answer):
    """One add_msg_template call (up to 10 000 recipients)."""

    chunk: int
    state: Literal["pending", "calling", "sent", "failed"]
    msgid: str | None = None
    audience_count: int | None = None
    fail_count: int | None = None
    errcode: int | None = None
    sent_at: Epoch | None = None
    cancelled_at: Epoch | None = None


class ReminderEvent(Answer):
    msgid: str
    at: Epoch
    trigger: Literal["manual", "scheduled"]
    outcome: Literal["sent", "uncertain"] = Field(description="uncertain: WeCom did not answer")


class Member(Answer):
    msgid: str
    userid: str
    status: Literal["sent", "unsent"]
    send_time: Epoch | None = None
    customers: dict[str, int] = Field(description="the member's customers by result status")
    sent_rate: float | None = Field(None, description="absent when the member has no customer")


class SyncState(Answer):
    msgid: str
    sync_state: Literal["active", "done", "refused"] | None = None
    last_synced_at: Epoch | None = None
    next_sync_at: Epoch | None = None
    sync_errcode: int | None = None


class Campaign(CampaignSummary):
    """One campaign (``GET /admin/campaigns/{id}``), without its audience (up to 100 000 ids)."""

    sender: str | None
    text: MessageText | None
    attachments: list[CampaignAttachment]
    tag_filter: TagFilter | None
    allow_select: bool | None
    msgids: list[str]
    chunks: list[Chunk]
    reminder_policy: Reminders | None
    next_remind_at: Epoch | None
    reminders: list[ReminderEvent]
    members: list[Member]
    members_truncated: bool
    sync: list[SyncState]
    skipped_capped: int | None = Field(
        None,
        description="created with skip_capped: how many capped customers were left out "
        "(who: GET /admin/campaigns/{campaign_id}/skipped)",
    )


class ChunkError(Answer):
    chunk: int
    errcode: int | None
    errmsg: str


class CampaignCreated(Answer):
    """A create's answer (the same, replayed, for a repeated Idempotency-Key)."""

    campaign_id: str
    status: CampaignStatus
    msgids: list[str]
    fail_list: list[str] = Field(description="external userids WeCom could not send to")
    send_at: Epoch | None = Field(None, description="a scheduled campaign's send time")
    chunk_errors: list[ChunkError] | None = None
    skipped_capped: int | None = Field(
        None, description="only with skip_capped: how many capped customers were left out of the audience"
    )


class SkippedPage(Answer):
    """Customers a ``skip_capped`` create left out (capped when it was created), in the audience's order;
    up to 5 000 per page, [] for a campaign created without the flag."""

    items: list[str]
    cursor: str | None = Cursor


class PreviewQuota(Answer):
    """WeCom's per-customer cap in the current period, and how it bears on the requested customers."""

    rule: Literal["month", "week", "day"] = Field(description="MASS_SEND_CUSTOMER_LIMIT")
    limit: int = Field(description="messages a customer may receive in the period")
    period: str = Field(description="the current period's id")
    capped: int | None = Field(
        description="how many of the requested customers are capped now; null when WeCom chooses the "
        "customers (sender or tag_filter audience) or the audience is group chats"
    )
    pending: int | None = Field(
        description="how many of them have a message still unsent in a running task; null as capped"
    )
    capped_sample: list[str] | None = Field(
        description=f"up to {cap.SAMPLE_SIZE} of the capped customers' external_userid; null as capped"
    )


class CampaignPreview(Answer):
    """What ``POST /admin/campaigns`` with the same body would do; nothing is sent or stored."""

    audience_size: int | None = Field(
        description="recipients create would send to (with skip_capped: after the capped are left out); "
        "null when WeCom chooses them (sender or tag_filter audience, a sender's group chats)"
    )
    chunks: int = Field(
        description="add_msg_template calls create would make (0: every customer is capped and "
        "skip_capped would refuse)"
    )
    quota: PreviewQuota
    warnings: list[str] = Field(description="what the operator should know before creating; [] when none")


class CancelFailure(Answer):
    msgid: str
    reason: str
    errcode: int | None = None


class CampaignCancelled(Answer):
    campaign_id: str
    status: Literal["cancelled"]
    msgids: list[str]
    cancelled: list[str]
    failed: list[CancelFailure]


class RemindOutcome(Answer):
    msgid: str
    result: Literal["sent", "uncertain", "refused", "failed"]
    next_allowed_at: int | None = Field(
        None, description="refused: epoch ms when WeCom's cap allows the next"
    )
    errcode: int | None = None


class Reminded(Answer):
    campaign_id: str
    reminded: list[str]
    refused: list[RemindOutcome]
    failed: list[RemindOutcome]
    outcomes: list[RemindOutcome]


class ResultRow(Answer):
    msgid: str
    userid: str | None = None
    external_userid: str | None = None
    chat_id: str | None = None
    send_time: Epoch | None = None
    status: ResultStatus  # type: ignore[valid-type]


class ResultsPage(Answer):
    items: list[ResultRow]
    cursor: str | None = Cursor


# ----------------------------------------------------------------------------------- group templates
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


# ------------------------------------------------------------------------------------------- channels
class ChannelWelcomeContent(Answer):
    """A channel's welcome, stored exactly as a welcome rule's content."""

    attachments: list[Attachment]
    text: MessageText | None = None


class Channel(Answer):
    """A channel (渠道活码): WeCom's 「联系我」 QR code whose state is ``channel_id``. ``config_id`` and
    ``qr_code`` are absent only while the code is being created (``pending``)."""

    channel_id: str
    name: str
    members: list[str]
    skip_verify: bool
    tags: list[str]
    welcome: ChannelWelcomeContent | None = None
    remark: str | None = None
    config_id: str | None = None
    qr_code: str | None = Field(None, description="the QR image's URL (WeCom's)")
    status: Literal["pending", "active", "gone"] = Field(
        description="pending: asked WeCom, answer not stored yet; gone: WeCom no longer has the code"
    )
    created_at_ms: int
    updated_at_ms: int
    stored: Literal[False] | None = Field(
        None, description="present (false) when WeCom holds the change but storing it failed"
    )
    warnings: list[str] | None = Field(None, description="what to do when stored is false")


class ChannelStatsTotals(Answer):
    """Counts of customers who arrived through the channel (keyed counters, each event counted once)."""

    added: int = Field(description="add-contact events with this State")
    welcomed: int = Field(description="welcomes sent or already sent")
    tagged: int = Field(description="customers the channel's tags were put on")
    tag_failed: int = Field(description="customers the tags could not be put on (never silently lost)")
    lost: int = Field(description="customers who deleted the member or were deleted by them")


class ChannelStatsDay(ChannelStatsTotals):
    date: str = Field(description="YYYY-MM-DD in WELCOME_TIMEZONE")


class ChannelStats(Answer):
    days: list[ChannelStatsDay] = Field(description="the last 30 days, oldest first, ending today")
    totals: ChannelStatsTotals


class ChannelWithStats(Channel):
    stats: ChannelStats


class ChannelPage(Answer):
    items: list[Channel]
    cursor: str | None = Cursor


class ChannelsChecked(Answer):
    wecom: int = Field(description="codes WeCom answered for")
    channels: int


class WeComCode(Answer):
    """A code WeCom holds that no channel knows."""

    config_id: str
    state: str
    members: list[str]
    skip_verify: bool
    remark: str
    importable: bool = Field(description="its state is a channel id no channel uses")
    reason: str | None = Field(None, description="why it cannot be imported")
    repaired: bool | None = Field(None, description="repair: imported")


class GoneCode(Answer):
    channel_id: str
    config_id: str
    repaired: bool | None = Field(None, description="repair: marked gone")


class FieldDrift(Answer):
    store: Any
    wecom: Any


class ChannelDiffers(Answer):
    channel_id: str
    config_id: str
    fields: dict[str, FieldDrift] = Field(description="members, skip_verify, remark or state")


class PendingChannel(Answer):
    channel_id: str
    config_id: str | None = Field(description="the code WeCom holds with this state, if any")
    in_flight: bool = Field(description="younger than the grace period of an add still waiting for WeCom")
    repaired: bool | None = Field(None, description="repair: the code was adopted")


class UncheckedCode(Answer):
    config_id: str
    reason: str
    errcode: int | None = None


class ChannelReconcileReport(Answer):
    repair: bool
    checked: ChannelsChecked
    in_sync: bool
    unknown_in_store: list[WeComCode]
    gone_in_wecom: list[GoneCode]
    differs: list[ChannelDiffers]
    pending: list[PendingChannel]
    unchecked: list[UncheckedCode]


# ---------------------------------------------------------------------------------------------- the API
class Health(Answer):
    status: Literal["ok"]


class OpenApiDocument(Answer):
    """This document (OpenAPI 3.1): the parts' own schema is the OpenAPI specification's."""

    openapi: str
    info: dict[str, Any]
    servers: list[dict[str, Any]]
    paths: dict[str, Any]
    components: dict[str, Any]
