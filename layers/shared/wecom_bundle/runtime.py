"""Per-container wiring: settings → shared token provider → WeCom client, built on first use.

Why lazily: the callback's URL verification (GET) needs none of this, and each piece costs import time
(requests, botocore) that a cold start should only pay when a request really needs it. Why rebuilt when the
corp id, corp secret or API origin change: settings are re-read every ``POWERTOOLS_PARAMETERS_MAX_AGE``
seconds (and at once when WeCom refuses the secret), and a rotated secret must take effect without a redeploy.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from typing import TYPE_CHECKING

from wecom_bundle import config

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from wecom_bundle.campaigns.deps import CampaignDeps
    from wecom_bundle.channels.reconcile import ChannelReconciler
    from wecom_bundle.channels.service import ChannelService
    from wecom_bundle.group_templates.media import TemplateMedia
    from wecom_bundle.group_templates.reconcile import Reconciler
    from wecom_bundle.group_templates.service import GroupTemplateService
    from wecom_bundle.media.cache import MediaCache
    from wecom_bundle.media.refresh import MediaRefresh
    from wecom_bundle.result_sync.deps import SyncDeps
    from wecom_bundle.wecom.client import WeComClient
    from wecom_bundle.welcome.admin import WelcomeAdmin
    from wecom_bundle.welcome.service import WelcomeService

_lock = threading.Lock()
_client: WeComClient | None = None
_built_for: tuple[str, str, str] = ("", "", "")
_media_cache: MediaCache | None = None
_group_templates: GroupTemplateService | None = None  # installed by a test (use_group_templates)
_channels: ChannelService | None = None  # installed by a test (use_channels)


def _identity(settings: config.WeComSettings) -> tuple[str, str, str]:
    return (settings.api_base, settings.corp_id, settings.corp_secret)


def _fetch_token(session: object, timeout: float) -> tuple[str, int]:
    """gettoken with the current settings; a refused secret re-reads the secret (rate-limited) and retries."""
    from wecom_bundle.wecom.client import fetch_token
    from wecom_bundle.wecom.errcodes import SECRET_REFUSED_ERRCODES
    from wecom_bundle.wecom.errors import WeComError

    settings = config.settings()
    try:
        return fetch_token(session, settings.api_base, settings.corp_id, settings.corp_secret, timeout)  # type: ignore[arg-type]
    except WeComError as exc:
        if exc.errcode not in SECRET_REFUSED_ERRCODES or not config.reread_after_rejection():
            raise
    settings = config.settings()
    return fetch_token(session, settings.api_base, settings.corp_id, settings.corp_secret, timeout)  # type: ignore[arg-type]


def _build(settings: config.WeComSettings) -> WeComClient:
    from wecom_bundle.wecom import token_repo
    from wecom_bundle.wecom.client import WeComClient, new_session
    from wecom_bundle.wecom.token_store import SharedTokenProvider, token_scope

    session = new_session()
    tokens = SharedTokenProvider(
        token_scope(settings.corp_id, settings.corp_secret),
        lambda timeout: _fetch_token(session, timeout),
        repo=token_repo,
    )
    return WeComClient(settings.api_base, tokens, session)


def wecom_client() -> WeComClient:
    """The container's WeCom client; a new one (new token scope) once the corp id, secret or origin change."""
    global _client, _built_for
    settings = config.settings()
    with _lock:
        if _client is None or _built_for != _identity(settings):
            _client, _built_for = _build(settings), _identity(settings)
        return _client


def reset_client() -> None:
    """Forget the client and what the media cache remembers: a cold start
    (``local.lambda_runtime.reset_layer_state`` and the SnapStart hooks call this)."""
    global _client, _built_for
    with _lock:
        _client, _built_for = None, ("", "", "")
        media = _media_cache
    if media is not None:
        media.forget()


def reset() -> None:
    """Forget the wiring (tests change settings and endpoints between cases) and the media cache's memory."""
    reset_client()
    config.settings.cache_clear()


# Services receive their collaborators (repository, WeCom API, clock, sleep, settings); the builders below
# assemble them once per container. Imports stay inside each builder: the callback pays only for its own.


# ----------------------------------------------------------------------------------------------- welcome
@functools.lru_cache(maxsize=1)
def welcome_service() -> WelcomeService:
    """The container's welcome service: the welcome repository, a rule cache on it, the WeCom client and its
    welcome API area, the settings. Built on the first add-contact event (URL verification and other events
    never pay for it)."""
    from wecom_bundle.wecom import welcome as wecom_welcome
    from wecom_bundle.welcome import repo
    from wecom_bundle.welcome.rules import RuleCache
    from wecom_bundle.welcome.service import WelcomeService, WelcomeSettings

    rules = RuleCache(repo.list_rules, config.env_float("WELCOME_RULES_CACHE_SECONDS", 5.0))
    return WelcomeService(
        wecom_client(), rules, WelcomeSettings.from_env(), repo=repo, api=wecom_welcome, media=media_cache()
    )


@functools.lru_cache(maxsize=1)
def welcome_admin() -> WelcomeAdmin:
    """The admin API's welcome operations: the welcome repository, the media cache (bucket objects must exist,
    saving warms their ids), the container's WeCom client (asked per save) and the wall clock."""
    from wecom_bundle.welcome import repo
    from wecom_bundle.welcome.admin import WelcomeAdmin

    return WelcomeAdmin(repo, media_cache(), wecom_client, time.time)


# ----------------------------------------------------------------------------------------------- campaigns
def campaign_deps() -> CampaignDeps:
    """The campaign services' collaborators: the repositories, the container's media cache and its WeCom
    client (built when a call is about to be made, so a refused body costs no token fetch)."""
    from wecom_bundle.campaigns import reminder_repo
    from wecom_bundle.campaigns import repo as campaign_repo
    from wecom_bundle.campaigns.deps import CampaignDeps
    from wecom_bundle.result_sync import repo as sync_repo

    return CampaignDeps(
        repo=campaign_repo,
        reminders=reminder_repo,
        sync_repo=sync_repo,
        media=media_cache(),
        wecom=wecom_client,
    )


def sync_deps() -> SyncDeps:
    """The result sync's collaborators: its repository, the campaigns' (msgid registry, repair), the queue."""
    from wecom_bundle.result_sync import queue
    from wecom_bundle.result_sync import repo as sync_repo
    from wecom_bundle.result_sync.deps import SyncDeps

    return SyncDeps(repo=sync_repo, campaigns=campaign_deps(), send_messages=queue.send, wecom=wecom_client)


# ----------------------------------------------------------------------------------------------- group templates
def _epoch_ms() -> int:
    return int(time.time() * 1000)


def media_cache() -> MediaCache:
    """The container's media cache (its memory lives as long as the container): built on first use on the
    media repository, the bucket and the wall clock, or the one a test installed with ``use_media_cache``."""
    global _media_cache
    with _lock:
        if _media_cache is None:
            from wecom_bundle.media.cache import MediaCache

            _media_cache = MediaCache()
        return _media_cache


def use_media_cache(cache: MediaCache | None) -> None:
    """Install the container's media cache (a test: one on the simulator's clock, then the previous one
    back); None builds a new one on next use. The services built on the previous one are forgotten, so every
    user shares the new one."""
    global _media_cache
    with _lock:
        _media_cache = cache
    for builder in (
        welcome_service,
        welcome_admin,
        group_template_media,
        _built_group_templates,
        _built_channels,
        media_refresh,
    ):
        builder.cache_clear()


@functools.cache
def group_template_media() -> TemplateMedia:
    """Template media on the mirror's repository and the media cache (the admin API and the refresh)."""
    from wecom_bundle.group_templates import repo
    from wecom_bundle.group_templates.media import TemplateMedia

    return TemplateMedia(repo=repo, cache=media_cache())


def group_templates() -> GroupTemplateService:
    """The admin API's group template service: the one built for this container, or the one a test
    installed with ``use_group_templates``."""
    return _group_templates or _built_group_templates()


@functools.cache
def _built_group_templates() -> GroupTemplateService:
    from wecom_bundle.group_templates import repo
    from wecom_bundle.group_templates.service import GroupTemplateService

    return GroupTemplateService(
        repo=repo, wecom=wecom_client, media=group_template_media(), clock_ms=_epoch_ms
    )


def use_group_templates(service: GroupTemplateService | None) -> GroupTemplateService | None:
    """Install the admin API's group template service (a test: one whose repository fails a write) and
    answer the one installed before (None: the built one), which the test puts back."""
    global _group_templates
    previous, _group_templates = _group_templates, service
    return previous


@functools.cache
def group_template_reconcile() -> Reconciler:
    """Drift between WeCom and the group template mirror (the admin API's reconcile route)."""
    from wecom_bundle.group_templates import repo
    from wecom_bundle.group_templates.reconcile import Reconciler

    return Reconciler(repo=repo, wecom=wecom_client, clock_ms=_epoch_ms)


@functools.cache
def media_refresh() -> MediaRefresh:
    """The scheduled media refresh with every content holder as a source: welcome rules, campaigns not yet
    created, group templates (also re-pointed at fresh ids after the uploads: WeCom stores them with ours)."""
    from wecom_bundle.campaigns import repo as campaign_repo
    from wecom_bundle.media.refresh import MediaRefresh, pending_campaign_attachments, rule_attachments
    from wecom_bundle.welcome import repo as welcome_repo

    templates = group_template_media()
    return MediaRefresh(
        sources={
            "welcome_rules": rule_attachments(welcome_repo.list_rules),
            "campaigns": pending_campaign_attachments(campaign_repo.list_campaigns),
            "group_templates": templates.media_attachments,
        },
        after_refresh={"group_templates": templates.refresh_media},
        wecom=wecom_client,
        cache=media_cache(),
    )


# ----------------------------------------------------------------------------------------------- channels
def channels() -> ChannelService:
    """The admin API's channel service: the one built for this container, or the one a test installed with
    ``use_channels``."""
    return _channels or _built_channels()


@functools.cache
def _built_channels() -> ChannelService:
    from wecom_bundle.channels import repo
    from wecom_bundle.channels.service import ChannelService

    return ChannelService(repo=repo, wecom=wecom_client, media=media_cache(), clock_ms=_epoch_ms)


def use_channels(service: ChannelService | None) -> ChannelService | None:
    """Install the admin API's channel service (a test: one whose store write fails after WeCom answered,
    or on a moved clock) and answer the one installed before (None: the built one)."""
    global _channels
    previous, _channels = _channels, service
    return previous


@functools.cache
def channel_reconcile() -> ChannelReconciler:
    """Channels against the contact ways WeCom holds (the admin API's reconcile route)."""
    from wecom_bundle.channels import repo
    from wecom_bundle.channels.reconcile import ChannelReconciler

    return ChannelReconciler(repo=repo, wecom=wecom_client, clock_ms=_epoch_ms)


def channel_stats_reader() -> Callable[[str, float], dict[str, Any]]:
    """``channel_stats(channel_id, now)`` (``now`` in epoch seconds): a channel's last 30 days of arrivals,
    per day (in ``WELCOME_TIMEZONE``) and in total. SEAM: until the arrival counters are wired here, it
    answers 30 days of zeros."""
    from wecom_bundle.channels.model import empty_stats

    timezone = os.environ.get("WELCOME_TIMEZONE") or "Asia/Shanghai"  # the welcome service's day
    return lambda _channel_id, now: empty_stats(now, timezone)
