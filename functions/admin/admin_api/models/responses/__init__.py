"""The admin API's success answers, as the layer services build them today (documentation only): one module per
domain (``welcome``, ``customers``, ``campaigns``, ``group_templates``, ``channels``, ``doctor``, ``api``) on ``common``, and
this index of every model by name (the routes and ``tests/unit/admin/test_responses.py`` look models up here).

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

from admin_api.models.responses.api import (
    Health,
    OpenApiDocument,
)
from admin_api.models.responses.campaigns import (
    Campaign,
    CampaignCancelled,
    CampaignCreated,
    CampaignPage,
    CampaignPreview,
    CampaignSummary,
    CancelFailure,
    Chunk,
    ChunkError,
    CustomerTotals,
    Member,
    MemberTotals,
    PreviewQuota,
    Reminded,
    ReminderEvent,
    RemindOutcome,
    ResultRow,
    ResultsPage,
    SkippedPage,
    SyncState,
    Totals,
)
from admin_api.models.responses.channels import (
    Channel,
    ChannelDiffers,
    ChannelPage,
    ChannelReconcileReport,
    ChannelsChecked,
    ChannelStats,
    ChannelStatsDay,
    ChannelStatsTotals,
    ChannelWelcomeContent,
    ChannelWithStats,
    FieldDrift,
    GoneCode,
    PendingChannel,
    UncheckedCode,
    WeComCode,
)
from admin_api.models.responses.customers import (
    CustomerMessage,
    CustomerQuota,
    CustomerView,
)
from admin_api.models.responses.doctor import DoctorCheck, DoctorReport
from admin_api.models.responses.group_templates import (
    Checked,
    Drift,
    DriftReport,
    HeldMedia,
    MediaRefreshError,
    Template,
    TemplateDeleted,
    TemplateList,
    Unchecked,
)
from admin_api.models.responses.welcome import (
    Rule,
    RuleList,
    SavedRule,
    Welcome,
    WelcomePage,
)

__all__ = [
    "Campaign",
    "CampaignCancelled",
    "CampaignCreated",
    "CampaignPage",
    "CampaignPreview",
    "CampaignSummary",
    "CancelFailure",
    "Channel",
    "ChannelDiffers",
    "ChannelPage",
    "ChannelReconcileReport",
    "ChannelStats",
    "ChannelStatsDay",
    "ChannelStatsTotals",
    "ChannelWelcomeContent",
    "ChannelWithStats",
    "ChannelsChecked",
    "Checked",
    "Chunk",
    "ChunkError",
    "CustomerMessage",
    "CustomerQuota",
    "CustomerTotals",
    "CustomerView",
    "DoctorCheck",
    "DoctorReport",
    "Drift",
    "DriftReport",
    "FieldDrift",
    "GoneCode",
    "Health",
    "HeldMedia",
    "MediaRefreshError",
    "Member",
    "MemberTotals",
    "OpenApiDocument",
    "PendingChannel",
    "PreviewQuota",
    "RemindOutcome",
    "Reminded",
    "ReminderEvent",
    "ResultRow",
    "ResultsPage",
    "Rule",
    "RuleList",
    "SavedRule",
    "SkippedPage",
    "SyncState",
    "Template",
    "TemplateDeleted",
    "TemplateList",
    "Totals",
    "Unchecked",
    "UncheckedCode",
    "WeComCode",
    "Welcome",
    "WelcomePage",
]
